"""Engine tests: plain pytest, no Home Assistant, real audio and real model inference."""
