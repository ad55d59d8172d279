"""Training / validation / evaluation audio sets for Acoustic Guard (``models/build_data``).

Modules, one job each:
    audio    -- read any source file to 16 kHz mono float32, write 16-bit WAV
    synth    -- procedural sound generators (alarms, confusers, glass, footsteps, noise)
    mixing   -- room reverb, levels, SNR mixing, clipping
    onsets   -- beep on/off intervals of a real recording (band energy around the tone)
    sources  -- the real recordings: shared/ files, Debian packages, espeak-ng speech
    splits   -- which source file / seed goes to which split
    scenes   -- clip recipes (what happens in one clip) -> audio + label
    contract -- the labels.jsonl record contract and its validator (pure Python)
    writer   -- WAV files + labels.jsonl + SUMMARY.json
    build    -- the command line (``python -m models.data.build``; ``models/build_data``)
    preview  -- spectrogram PNGs + label/energy statistics (listening proxy)
"""
