"""The learner's Prometheus series, read from its counters at scrape time (nothing on the request path).

    turnout_feedback_total{result}              recorded, duplicate, unknown, lost (store down)
    turnout_outcome_rows_total{source}          rows read into this replica's index: feedback, shadow
    turnout_learning_store_errors_total{op}     context, feedback, shadow, sync, flood, budget (limit and
                                                budget fell back to this replica's own)
    turnout_shadow_jobs_total{result}           judged, dropped (busy), over_budget, failed
    turnout_shadow_spend_usd_total              stronger-model and judge calls of shadow samples
    turnout_learning_rows{alias}                rows in the in-memory index
    turnout_router_need{alias, kind}            mean predicted vs observed need of the stronger model
    turnout_router_threshold{alias}             current score threshold
    turnout_router_strong_share{alias}          share of the calibration window sent to the stronger model
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

if TYPE_CHECKING:
    from gateway.learning.learner import Learner

_COUNTERS = {
    "feedback": ("turnout_feedback", "Feedback calls by result.", "result",
                 ("recorded", "duplicate", "unknown", "lost")),
    "rows": ("turnout_outcome_rows", "Outcome rows read into this replica's index, by source.", "source",
             ("feedback", "shadow")),
    "store_errors": ("turnout_learning_store_errors", "Learning store (Redis) failures, by operation.", "op",
                     ("context", "feedback", "shadow", "sync", "flood", "budget")),
    "shadow": ("turnout_shadow_jobs", "Shadow samples by result.", "result",
               ("judged", "dropped", "over_budget", "failed")),
}


class LearningCollector:
    def __init__(self, learner: Learner) -> None:
        self._learner = learner

    def describe(self) -> Iterable[Metric]:
        return self.collect()

    def collect(self) -> Iterable[Metric]:
        learner = self._learner
        for event, (name, doc, label, known) in _COUNTERS.items():
            family = CounterMetricFamily(name, doc, labels=[label])
            values = {k[1]: v for k, v in learner.counts.items() if k[0] == event}
            for value in sorted(set(known) | set(values)):
                family.add_metric([value], float(values.get(value, 0)))
            yield family
        spend = CounterMetricFamily("turnout_shadow_spend_usd", "Spend of shadow samples (USD).")
        spend.add_metric([], learner.shadow_spend_usd)
        yield spend
        rows = GaugeMetricFamily("turnout_learning_rows", "Outcome rows in the in-memory index.", labels=["alias"])
        need = GaugeMetricFamily("turnout_router_need", "Mean need of the stronger model on labelled rows: what "
                                 "the router predicted vs what was observed.", labels=["alias", "kind"])
        threshold = GaugeMetricFamily("turnout_router_threshold", "Score threshold of the alias.", labels=["alias"])
        share = GaugeMetricFamily("turnout_router_strong_share", "Share of recent requests sent to the stronger "
                                  "model.", labels=["alias"])
        for alias, report in learner.report().items():
            rows.add_metric([alias], float(report["rows"]))
            for kind in ("predicted", "observed"):
                value = report[f"{kind}_need"]
                need.add_metric([alias, kind], float(value) if value is not None else 0.0)
            threshold.add_metric([alias], float(report["threshold"]))
            share.add_metric([alias], float(report["strong_share"]))
        yield from (rows, need, threshold, share)
