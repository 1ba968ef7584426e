"""A routing decision for a person (`turnout route --explain "prompt"`)."""

from __future__ import annotations

from collections.abc import Sequence

from router.select import Decision


def explain(decision: Decision, nearest: Sequence[tuple[str, float]] = ()) -> str:
    """Several lines: the tier and why, each candidate kept or skipped with its reason, the chain."""
    tier = f"tier {int(decision.tier)}"
    if decision.tier != decision.classified_tier or decision.escalated:
        why = f", {decision.escalated}" if decision.escalated else ", capped by the client"
        tier += f" (classified {int(decision.classified_tier)}{why})"
    lines = [f"alias {decision.alias!r}: {tier}, score {decision.score:.2f}, task {decision.task}, "
             f"policy {decision.policy_version or '-'}"]
    if decision.route is not None:
        r = decision.route
        taken = f"route {r.route!r}" if r.route is not None else "no route (the alias's tiers)"
        lines.append(f"{taken}: best {r.best!r}, score {r.score:.2f}, similarity {r.similarity:.2f}")
        lines.extend(f"    nearest example ({sim:.2f}): {text[:100]}" for text, sim in nearest)
    if decision.hints_applied or decision.hints_ignored:
        lines.append(f"hints applied: {', '.join(sorted(decision.hints_applied)) or '-'}; "
                     f"ignored: {', '.join(sorted(decision.hints_ignored)) or '-'}")
    width = max(len(c.model) for c in decision.candidates)
    for candidate in decision.candidates:
        position = decision.chain.index(candidate.model) + 1 if candidate.model in decision.chain else None
        mark = f"{position}." if position is not None else "- "
        cost = f"  ~${candidate.estimated_cost_usd:.6f}" if candidate.estimated_cost_usd is not None else ""
        lines.append(f"  {mark:>3} {candidate.model:<{width}}  {candidate.reason}{cost}")
    lines.append("chain: " + " -> ".join(decision.chain))
    return "\n".join(lines)
