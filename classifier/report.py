"""The evaluation report as Markdown (the CLI and the model card) and the cost/quality curve as a PNG."""

from __future__ import annotations

from pathlib import Path

from classifier.evaluation import LENGTH, POOLED, RANDOM, EvalReport


def _row(name: str, cells: list[str]) -> str:
    return f"| {name} | " + " | ".join(cells) + " |"


def render(report: EvalReport) -> str:
    """LOFO table (router vs length vs random per family and pooled), then every candidate, then tiers."""
    chosen = report.chosen
    lines = [f"### Routing on held-out families: the shipped head ({chosen}) vs the length rule vs random", "",
             "| held-out family | rows | router | prompt length | random | random 95% band |",
             "|---|---|---|---|---|---|"]
    for unit, row in report.apgr.items():
        low, high = report.noise[unit]
        best = "**" if row[chosen] > row[LENGTH] else ""
        lines.append(_row(unit, [str(report.rows[unit]), f"{best}{row[chosen]:.3f}{best}", f"{row[LENGTH]:.3f}",
                                 f"{row[RANDOM]:.3f}", f"{low:.3f}-{high:.3f}"]))
    wins = sum(1 for u, row in report.apgr.items() if u != POOLED and row[chosen] > row[LENGTH])
    families = len(report.apgr) - 1
    lines += ["", f"Mean per-family APGR: router {report.mean_apgr(chosen):.3f}, "
              f"length {report.mean_apgr(LENGTH):.3f}; "
              f"the router beats length on {wins} of {families} families.", "",
              "### Every candidate (APGR; mean = families weighted equally)", ""]
    names = [*report.candidates, LENGTH]
    lines += ["| held-out family | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for unit, row in report.apgr.items():
        lines.append(_row(unit, [f"{row[n]:.3f}" for n in names]))
    lines.append(_row("**mean per family**", [f"{report.mean_apgr(n):.3f}" for n in names]))
    t = report.tiers
    lines += ["", "### Tiers of the shipped head on held-out families (outcome-labelled rows)", "",
              "| tier | precision | recall | support |", "|---|---|---|---|"]
    lines += [f"| {k + 1} | {t.precision[k]:.3f} | {t.recall[k]:.3f} | {t.support[k]} |" for k in range(3)]
    lines += ["", f"macro-F1 {t.macro_f1:.3f}, accuracy {t.accuracy:.3f}, top-label ECE {t.ece:.3f}, "
              f"score ECE {t.score_ece:.3f}", ""]
    return "\n".join(lines)


def write_curve(report: EvalReport, path: Path) -> None:
    """Pooled quality against the share of calls sent to the strong model: router, length rule, random."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6.4, 4.4), dpi=110)
    for name, label in ((report.chosen, f"router ({report.chosen})"), (LENGTH, "prompt length"),
                        (RANDOM, "random")):
        curve = report.curves[name]
        axis.plot(curve.share, curve.quality, label=f"{label}: APGR {report.apgr[POOLED][name]:.3f}")
    axis.set_xlabel("share of calls sent to the stronger model")
    axis.set_ylabel("mean quality (held-out families, pooled)")
    axis.set_title("Cost/quality under leave-one-family-out")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8, loc="lower right")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, metadata={"Software": None})
    plt.close(figure)
