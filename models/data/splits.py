"""Which source file and which random seeds go to which split.

Rules (see README.md): every real recording is assigned *by file* (a file's audio never
appears in two of train/eval); val uses different files where a category has enough of
them, otherwise segments of train files (val only monitors training; eval is the held-out
measure). Every split has its own seed base, so no synthetic sound is shared either.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Final

SPLITS: Final = ("train", "val", "eval")  # how the source files are assigned
# Data sets built from them: the three splits plus ``tune``, an evaluation-like set (long
# alarm clips, walks, confusers, hours of household audio) rendered from the *val* sources
# with its own seeds, so that threshold tuning sees what the evaluation measures without
# touching an evaluation source. ``refit`` holds training clips of confusers added after the
# shipped encoder was trained (a whistling kettle): rendered from the *train* sources with its
# own seeds, used only to refit a head on the frozen encoder (``models/refit_head.py``).
# ``soak`` is held-out household audio with no target event (from the *eval* sources, own
# seeds): enough hours that a false-alarm rate near the goal of one a day can be measured.
# ``tune_soak`` is the same recipe rendered from the *val* sources (own seeds): the tuner reads
# it for smoke, CO and glass false alarms per day (models/tune.py --soak); it is not held out.
# ``train_soak`` is the recipe rendered from the *train* sources (own seeds): hard negatives
# are mined from it for head refits (models/mine_negatives.py).
DATA_SETS: Final = ("train", "val", "tune", "eval", "refit", "soak", "tune_soak", "train_soak")
SOURCES_OF: Final = {
    "train": "train",
    "val": "val",
    "tune": "val",
    "eval": "eval",
    "refit": "train",
    "soak": "eval",
    "tune_soak": "val",
    "train_soak": "train",
}
HELD_OUT: Final = frozenset(s for s, src in SOURCES_OF.items() if src == "eval")
SEED_BASE: Final = {
    "train": 1_000_003,
    "val": 2_000_003,
    "tune": 4_000_037,
    "eval": 3_000_017,
    "refit": 5_000_011,
    "soak": 6_000_029,
    "tune_soak": 7_000_003,
    "train_soak": 8_000_009,
}

# ---- shared/data/alarms: (file, split, start_s, end_s)  (None = to the end)
ALARM_FILES: Final = [
    ("325367__moonlightshadow__fire-house-alarm.wav", "train", 0.0, 8.4),
    ("325367__moonlightshadow__fire-house-alarm.wav", "val", 8.4, None),
    ("ALRMElec_Smoke detector alarm 2 (ID 1151)_BSB.wav", "train", 0.0, 30.0),
    ("ALRMElec_Smoke detector alarm 2 (ID 1151)_BSB.wav", "val", 30.0, None),
    # held out: the evaluation's real alarms, never seen in training
    ("ALRMElec_Smoke detector alarm (ID 0800)_BSB.wav", "eval", 0.0, None),
    ("ALRMElec_Smoke detector alarm 3 (ID 1153)_BSB.wav", "eval", 0.0, None),
]

# ---- shared/data/music_speech: split by file (3 speech files: one per split)
# The NonCommercial (CC BY-NC) pieces are never trained on, so the shipped weights derive
# from no NC material: three serve as validation audio (early stopping, threshold tuning),
# pibble.ogg as evaluation audio.
MUSIC_SPEECH: Final = {
    "train": [
        "198-209-0000.ogg",
        "456440__inspectorj__bird-whistling-robin-single-13.ogg",
        "Hungarian_Dance_number_5_-_Allegro_in_F_sharp_minor_(string_orchestra).ogg",
        "Karissa_Hobbs_-_Lets_Go_Fishin.ogg",
        "glacier-bay-humpback.ogg",
        "Kevin_MacLeod_-_P_I_Tchaikovsky_Dance_of_the_Sugar_Plum_Fairy.ogg",
    ],
    "val": [
        "3436-172162-0000.ogg",
        "sorohanro_-_solo-trumpet-06.ogg",
        "147793__setuniman__sweet-waltz-0i-22mi.ogg",
        "442789__lena-orsa__happy-music-pistachio-ice-cream-ragtime.ogg",
        "admiralbob77_-_Choice_-_Drum-bass.ogg",
    ],
    "eval": ["5703-47212-0000.ogg", "Kevin_MacLeod_-_Vibe_Ace.ogg", "pibble.ogg"],
}

# ---- espeak-ng: voices and sentences differ between splits
ESPEAK_VOICES: Final = {
    "train": ["en-us+m1", "en-us+f2", "en+m3", "en+f1", "de+m2", "fr+f3", "en-us+m7", "nl+m1"],
    "val": ["en-gb-x-rp+f4", "es+m4", "it+f2"],
    "eval": ["en-gb-scotland+m5", "en-us+f5", "es+m6", "de+f4", "en+croak", "pt+m2"],
}
ESPEAK_SENTENCES: Final = {
    "train": [
        "Could you turn the kitchen light off when you leave?",
        "The weather tomorrow will be cloudy with a chance of rain.",
        "I put the keys on the table next to the door.",
        "Dinner is ready, come downstairs please.",
        "Did anyone see where I left my phone charger?",
        "We need milk, eggs, bread and some apples.",
        "The meeting has been moved to three o'clock.",
        "Please remember to water the plants on Sunday.",
        "Hey, the game is about to start, are you coming?",
        "Let me know when the washing machine is done.",
        "That movie was much longer than I expected.",
        "Turn the music down a little, the baby is sleeping.",
        "Okay, one two three, testing the microphone.",
        "The train was late again this morning.",
        "Honey, have you fed the cat yet?",
        "Call me back when you get this message.",
    ],
    "val": [
        "The library closes early on public holidays.",
        "Shall we order pizza or cook something tonight?",
        "My brother is visiting us next weekend.",
        "The heating makes a strange noise at night.",
    ],
    "eval": [
        "Grandma called, she wants to know about Sunday lunch.",
        "Where did you park the car yesterday evening?",
        "The dishwasher needs a new filter, I think.",
        "Homework first, then you can play outside.",
        "Can you hear that? I think it is the neighbours.",
        "I am going to the shop, do you need anything?",
        "The news said the roads will be icy tonight.",
        "Let us read one more chapter and then sleep.",
        "Happy birthday to you, make a wish!",
        "Is the front door locked? I forgot to check.",
    ],
}

# ---- Debian packages: (package, path glob inside the package, role) -> split by file.
# role: glass (glass_break positive), step:<material> (single footstep impacts),
#       alarm_clock / ringtone / phone_tone (beeping_appliance), neg_impact (door, metal,
#       tool, chest: unlabelled impact negatives), neg_tone (notification chimes: unlabelled),
#       speech (spoken words).
MT = "usr/share/games/minetest/games/minetest_game/mods"
FD = "usr/share/sounds/freedesktop/stereo"
OA = "usr/share/games/openarena/baseoa/pak0.pk3!sound"

DEBIAN_FILES: Final[list[tuple[str, str, str, str]]] = [
    # package, path, role, split
    ("minetest-data", f"{MT}/default/sounds/default_break_glass.1.ogg", "glass", "train"),
    ("minetest-data", f"{MT}/default/sounds/default_break_glass.2.ogg", "glass", "train"),
    ("minetest-data", f"{MT}/default/sounds/default_break_glass.3.ogg", "glass", "eval"),
    ("minetest-data", f"{MT}/default/sounds/default_hard_footstep.1.ogg", "step:hard", "train"),
    ("minetest-data", f"{MT}/default/sounds/default_hard_footstep.2.ogg", "step:hard", "train"),
    ("minetest-data", f"{MT}/default/sounds/default_hard_footstep.3.ogg", "step:hard", "eval"),
    ("minetest-data", f"{MT}/default/sounds/default_wood_footstep.1.ogg", "step:wood", "train"),
    ("minetest-data", f"{MT}/default/sounds/default_wood_footstep.2.ogg", "step:wood", "eval"),
    ("minetest-data", f"{MT}/default/sounds/default_metal_footstep.1.ogg", "step:metal", "train"),
    ("minetest-data", f"{MT}/default/sounds/default_metal_footstep.2.ogg", "step:metal", "val"),
    ("minetest-data", f"{MT}/default/sounds/default_metal_footstep.3.ogg", "step:metal", "eval"),
    ("minetest-data", f"{MT}/default/sounds/default_dirt_footstep.1.ogg", "step:dirt", "train"),
    ("minetest-data", f"{MT}/default/sounds/default_dirt_footstep.2.ogg", "step:dirt", "eval"),
    ("minetest-data", f"{MT}/default/sounds/default_glass_footstep.ogg", "step:tile", "train"),
    ("minetest-data", f"{MT}/default/sounds/default_gravel_footstep.1.ogg", "step:gravel", "train"),
    ("minetest-data", f"{MT}/default/sounds/default_gravel_footstep.3.ogg", "step:gravel", "eval"),
    ("minetest-data", f"{MT}/default/sounds/default_sand_footstep.1.ogg", "step:sand", "train"),
    ("minetest-data", f"{MT}/default/sounds/default_sand_footstep.3.ogg", "step:sand", "val"),
    ("minetest-data", f"{MT}/default/sounds/default_snow_footstep.1.ogg", "step:snow", "train"),
    ("minetest-data", f"{MT}/default/sounds/default_snow_footstep.4.ogg", "step:snow", "eval"),
    ("minetest-data", f"{MT}/doors/sounds/doors_door_close.ogg", "neg_impact", "train"),
    ("minetest-data", f"{MT}/doors/sounds/doors_door_open.ogg", "neg_impact", "train"),
    ("minetest-data", f"{MT}/doors/sounds/doors_steel_door_close.ogg", "neg_impact", "eval"),
    ("minetest-data", f"{MT}/doors/sounds/doors_steel_door_open.ogg", "neg_impact", "train"),
    ("minetest-data", f"{MT}/doors/sounds/doors_glass_door_close.ogg", "neg_impact", "train"),
    ("minetest-data", f"{MT}/doors/sounds/doors_glass_door_open.ogg", "neg_impact", "eval"),
    ("minetest-data", f"{MT}/doors/sounds/doors_fencegate_close.ogg", "neg_impact", "val"),
    ("minetest-data", f"{MT}/xpanes/sounds/xpanes_steel_bar_door_close.ogg", "neg_impact", "eval"),
    ("minetest-data", f"{MT}/default/sounds/default_dug_metal.1.ogg", "neg_impact", "train"),
    ("minetest-data", f"{MT}/default/sounds/default_dug_metal.2.ogg", "neg_impact", "eval"),
    ("minetest-data", f"{MT}/default/sounds/default_place_node_metal.1.ogg", "neg_impact", "train"),
    ("minetest-data", f"{MT}/default/sounds/default_place_node_hard.1.ogg", "neg_impact", "train"),
    ("minetest-data", f"{MT}/default/sounds/default_place_node_hard.2.ogg", "neg_impact", "eval"),
    ("minetest-data", f"{MT}/default/sounds/default_tool_breaks.1.ogg", "neg_impact", "train"),
    ("minetest-data", f"{MT}/default/sounds/default_tool_breaks.2.ogg", "neg_impact", "eval"),
    ("minetest-data", f"{MT}/default/sounds/default_tool_breaks.3.ogg", "neg_impact", "val"),
    ("minetest-data", f"{MT}/default/sounds/default_dig_cracky.1.ogg", "neg_impact", "train"),
    ("minetest-data", f"{MT}/default/sounds/default_dig_cracky.2.ogg", "neg_impact", "eval"),
    ("minetest-data", f"{MT}/default/sounds/default_chest_close.ogg", "neg_impact", "train"),
    ("minetest-data", f"{MT}/default/sounds/default_chest_open.ogg", "neg_impact", "eval"),
    ("openarena-data", f"{OA}/player/footsteps/boot1.wav", "step:boot", "train"),
    ("openarena-data", f"{OA}/player/footsteps/boot2.wav", "step:boot", "train"),
    ("openarena-data", f"{OA}/player/footsteps/boot3.wav", "step:boot", "val"),
    ("openarena-data", f"{OA}/player/footsteps/boot4.wav", "step:boot", "eval"),
    ("openarena-data", f"{OA}/player/footsteps/step1.wav", "step:step", "train"),
    ("openarena-data", f"{OA}/player/footsteps/step2.wav", "step:step", "train"),
    ("openarena-data", f"{OA}/player/footsteps/step3.wav", "step:step", "val"),
    ("openarena-data", f"{OA}/player/footsteps/step4.wav", "step:step", "eval"),
    ("openarena-data", f"{OA}/player/footsteps/clank1.wav", "step:clank", "train"),
    ("openarena-data", f"{OA}/player/footsteps/clank2.wav", "step:clank", "train"),
    ("openarena-data", f"{OA}/player/footsteps/clank3.wav", "step:clank", "eval"),
    ("openarena-data", f"{OA}/player/footsteps/clank4.wav", "step:clank", "eval"),
    ("openarena-data", f"{OA}/player/footsteps/flesh1.wav", "step:soft", "train"),
    ("openarena-data", f"{OA}/player/footsteps/flesh2.wav", "step:soft", "train"),
    ("openarena-data", f"{OA}/player/footsteps/flesh4.wav", "step:soft", "eval"),
    ("openarena-data", f"{OA}/movers/doors/dr1_end.wav", "neg_impact", "train"),
    ("openarena-data", f"{OA}/movers/doors/dr1_strt.wav", "neg_impact", "eval"),
    ("sound-theme-freedesktop", f"{FD}/alarm-clock-elapsed.oga", "alarm_clock", "train"),
    ("sound-theme-freedesktop", f"{FD}/phone-incoming-call.oga", "ringtone", "train"),
    ("sound-theme-freedesktop", f"{FD}/phone-outgoing-calling.oga", "ringtone", "eval"),
    ("sound-theme-freedesktop", f"{FD}/phone-outgoing-busy.oga", "phone_tone", "val"),
    ("sound-theme-freedesktop", f"{FD}/bell.oga", "neg_tone", "train"),
    ("sound-theme-freedesktop", f"{FD}/complete.oga", "neg_tone", "train"),
    ("sound-theme-freedesktop", f"{FD}/message.oga", "neg_tone", "train"),
    ("sound-theme-freedesktop", f"{FD}/dialog-warning.oga", "neg_tone", "train"),
    ("sound-theme-freedesktop", f"{FD}/device-added.oga", "neg_tone", "train"),
    ("sound-theme-freedesktop", f"{FD}/service-login.oga", "neg_tone", "train"),
    ("sound-theme-freedesktop", f"{FD}/trash-empty.oga", "neg_tone", "train"),
    ("sound-theme-freedesktop", f"{FD}/camera-shutter.oga", "neg_tone", "train"),
    ("sound-theme-freedesktop", f"{FD}/message-new-instant.oga", "neg_tone", "val"),
    ("sound-theme-freedesktop", f"{FD}/dialog-information.oga", "neg_tone", "eval"),
    ("sound-theme-freedesktop", f"{FD}/suspend-error.oga", "neg_tone", "eval"),
    ("sound-theme-freedesktop", f"{FD}/service-logout.oga", "neg_tone", "eval"),
    ("sound-theme-freedesktop", f"{FD}/window-attention.oga", "neg_tone", "eval"),
    ("sound-theme-freedesktop", f"{FD}/power-unplug.oga", "neg_tone", "eval"),
    ("sound-theme-freedesktop", f"{FD}/screen-capture.oga", "neg_tone", "eval"),
    ("sound-theme-freedesktop", f"{FD}/audio-channel-front-left.oga", "speech", "train"),
    ("sound-theme-freedesktop", f"{FD}/audio-channel-rear-right.oga", "speech", "train"),
    ("sound-theme-freedesktop", f"{FD}/audio-channel-side-left.oga", "speech", "train"),
    ("sound-theme-freedesktop", f"{FD}/audio-channel-front-center.oga", "speech", "val"),
    ("sound-theme-freedesktop", f"{FD}/audio-channel-rear-left.oga", "speech", "eval"),
    ("sound-theme-freedesktop", f"{FD}/audio-channel-side-right.oga", "speech", "eval"),
]
DEBIAN_PACKAGES: Final = sorted({p for p, _, _, _ in DEBIAN_FILES})


def held_out_data(folders: Iterable[Path], item_splits: Iterable[str]) -> bool:
    """True when labelled data is a held-out set (eval, soak): by its labels or folder name.

    Tuning and candidate comparison refuse such data: they may never choose on it.
    """
    return bool(set(item_splits) & HELD_OUT) or any(
        Path(f).resolve().name in HELD_OUT for f in folders
    )


def held_out_leaks(out: Path) -> set[str]:
    """Real (non-synthetic) sources of eval or soak that also occur in train, val, tune or refit."""
    real: dict[str, set[str]] = {}
    for split in DATA_SETS:
        summary = out / split / "SUMMARY.json"
        if summary.exists():
            names = json.loads(summary.read_text())["sources"]
            real[split] = {k for k in names if not k.startswith(("synth:", "noise:"))}
    held = set().union(*(names for split, names in real.items() if split in HELD_OUT))
    others = [names for split, names in real.items() if split not in HELD_OUT]
    return held & set().union(*others)
