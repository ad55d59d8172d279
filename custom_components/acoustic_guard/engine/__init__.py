"""The Acoustic Guard engine: audio in, detections out (numpy + optional onnxruntime).

No Home Assistant imports here: the integration, the CLI, the benchmarks and the verifier
all use the same code. Modules, one job each: ``audio`` (PCM -> 16 kHz mono), ``resample``
(rate conversion), ``wavfile`` (read recordings), ``features`` (log-mel), ``runtime`` (the
model), ``aggregate`` (frame scores -> events), ``detector`` (one stream end to end),
``evaluate`` (labelled data -> metrics), ``cli`` / ``bench`` / ``progress`` (the command).
"""
