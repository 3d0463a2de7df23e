"""The Prometheus text format."""

from __future__ import annotations

from telemetry_service.receiver import Metrics


def test_render() -> None:
    metrics = Metrics()
    metrics.ingest.inc("ch", "stored")
    metrics.ingest.inc("ch", "stored")
    metrics.ingest.inc('we"ird\n', "malformed")
    metrics.ingest_seconds.observe(0.003)
    metrics.ingest_seconds.observe(100)
    metrics.gauge("g_now", "A gauge.", lambda: 2.5)
    text = metrics.render()
    assert "# TYPE telemetry_receiver_ingest_total counter" in text
    assert 'telemetry_receiver_ingest_total{channel="ch",outcome="stored"} 2' in text
    assert 'channel="we\\"ird\\n"' in text
    assert 'telemetry_receiver_ingest_seconds_bucket{le="0.005"} 1' in text
    assert 'telemetry_receiver_ingest_seconds_bucket{le="10"} 1' in text
    assert 'telemetry_receiver_ingest_seconds_bucket{le="+Inf"} 2' in text
    assert "telemetry_receiver_ingest_seconds_count 2" in text
    assert "telemetry_receiver_ingest_seconds_sum 100.003" in text
    assert "# TYPE g_now gauge\ng_now 2.5" in text
    assert text.endswith("\n")
