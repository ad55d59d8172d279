"""The benchmark runs end to end on real audio and reports every figure (no timing asserts)."""

from __future__ import annotations

from custom_components.acoustic_guard.engine.bench import format_report, run_bench


def test_bench_reports_both_runtimes() -> None:
    report = run_bench(seconds=2.0, repeats=1, teacher=False)
    runtimes = {r["runtime"]: r for r in report["runtimes"]}
    assert set(runtimes) == {"onnxruntime", "numpy"}
    for r in runtimes.values():
        assert r["realtime_factor"] > 1.0
        assert r["ms_per_audio_second"] > 0.0
        assert 0 < r["state_bytes_per_stream"] <= 1_000_000
        assert r["peak_rss_mb"] > 10.0
    assert len(report["audio"]["sources"]) >= 4  # the real recordings from shared/
    assert set(report["stages_ms_per_audio_second"]) == {
        "convert_48k_stereo",
        "features",
        "model",
        "aggregation",
    }
    text = format_report(report)
    assert "onnxruntime" in text and "numpy" in text
