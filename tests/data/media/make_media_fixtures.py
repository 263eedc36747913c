"""Write the media fixtures of ``tests/data/test_media.py`` into this directory.

One short Amharic utterance spoken by ``espeak-ng -v am`` is written in many containers and codecs, all encoded
with PyAV (no ffmpeg binary). The outputs are committed; tests never run this script, and only regenerating them
needs ``espeak-ng``::

    python tests/data/media/make_media_fixtures.py          # rewrites the files next to this script

| file                      | container  | audio                               | video            |
| ------------------------- | ---------- | ----------------------------------- | ---------------- |
| speech.wav                | wav        | pcm_s16le 22050 Hz mono (reference) | -                |
| speech_8k_u8.wav          | wav        | pcm_u8 8000 Hz mono                 | -                |
| speech_stereo_44k.flac    | flac       | flac 44100 Hz stereo, L=0.8x R=0.4x | -                |
| speech.mp3                | mp3        | libmp3lame 22050 Hz mono 40 kb/s    | -                |
| speech.m4a                | mp4 (ipod) | aac 48000 Hz mono 48 kb/s           | -                |
| speech.opus               | ogg        | libopus 48000 Hz mono 32 kb/s       | -                |
| speech.webm               | webm       | libopus 48000 Hz mono 32 kb/s       | -                |
| speech.mkv                | matroska   | libopus 48000 Hz stereo 48 kb/s     | mpeg4 64x64 5fps |
| speech.mp4                | mp4        | aac 44100 Hz mono 48 kb/s           | h264 64x64 5fps  |
| speech.mov                | mov        | aac 16000 Hz mono 32 kb/s           | mpeg4 64x64 5fps |
| video_only.mp4            | mp4        | -                                   | h264 64x64 5fps  |
| speech_retake.opus        | ogg        | another reading of the text (espeak -s 165 -p 65), libopus 32 kb/s |
| late_audio.mkv            | matroska   | libopus 48000 Hz mono, starts 0.5 s after the video  | mpeg4 |
| truncated.mp3             | mp3        | the first 60 % of speech.mp3 (its header still says 3.2 s)        |
| glitch.m4a                | mp4 (ipod) | speech.m4a with 400 random bytes inside its audio data            |
| broken.mp4                | -          | first 300 bytes of speech.mp4 + 1700 seeded random bytes         |
| not_media.mp4             | -          | a text file                                                       |

The stereo file's channels are scaled differently so that a test can tell a mean downmix (0.6x) from FFmpeg's
default rematrix (about 0.85x). Lossless outputs are byte-for-byte reproducible; lossy ones are reproducible
with the same FFmpeg build (the one bundled in the ``av`` wheel).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import soundfile as sf

HERE = Path(__file__).resolve().parent
TEXT = "ሰላም ነው። አዲስ አበባ ትልቅ ከተማ ናት።"
ESPEAK_RATE = 22050  # espeak-ng's output rate


def espeak(text: str, voice: str = "am", extra: tuple[str, ...] = ()) -> np.ndarray:
    """int16 mono samples at 22050 Hz of ``text`` spoken by espeak-ng."""
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "say.wav"
        subprocess.run(["espeak-ng", "-v", voice, *extra, "-w", str(wav), text], check=True)
        samples, rate = sf.read(wav, dtype="int16")
    assert rate == ESPEAK_RATE, rate
    return samples


def _audio_frames(channels: np.ndarray, rate: int, chunk: int = 4096):
    """Packed s16 frames of ``channels`` (shape: channels x samples, int16)."""
    layout = "mono" if channels.shape[0] == 1 else "stereo"
    for offset in range(0, channels.shape[1], chunk):
        block = np.ascontiguousarray(channels[:, offset : offset + chunk].T).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(block, format="s16", layout=layout)
        frame.sample_rate = rate
        frame.pts = offset
        frame.time_base = Fraction(1, rate)
        yield frame


def _video_frames(seconds: float, fps: int, size: int = 64):
    """A small moving gradient, ``seconds`` long at ``fps`` (deterministic)."""
    ramp = np.linspace(0, 255, size, dtype=np.float32)
    for i in range(int(np.ceil(seconds * fps))):
        rgb = np.empty((size, size, 3), dtype=np.uint8)
        rgb[..., 0] = (ramp[None, :] + 8 * i) % 256
        rgb[..., 1] = ramp[:, None]
        rgb[..., 2] = (40 * i) % 256
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        frame.pts = i
        frame.time_base = Fraction(1, fps)
        yield frame


def encode(
    path: Path,
    samples: np.ndarray,
    rate: int,
    *,
    codec: str | None,
    codec_rate: int | None = None,
    layout: str = "mono",
    bit_rate: int | None = None,
    container_format: str | None = None,
    video_codec: str | None = None,
    fps: int = 5,
    audio_delay: int = 0,
) -> None:
    """Write ``samples`` (int16, shape samples or channels x samples, at ``rate``) with PyAV.

    The audio encoder's own resampler converts to ``codec_rate``/``layout``/its sample format. ``codec=None``
    writes no audio stream; ``video_codec`` adds a tiny video stream as long as the audio; the audio starts
    ``audio_delay`` samples (at ``rate``) after the video.
    """
    channels = samples[None, :] if samples.ndim == 1 else samples
    seconds = (channels.shape[1] + audio_delay) / rate
    # fflags=bitexact: no random stream serials / segment UIDs, no dates: the same bytes on every run.
    with av.open(str(path), "w", format=container_format, options={"fflags": "+bitexact"}) as out:
        audio = None
        if codec is not None:
            audio = out.add_stream(codec, rate=codec_rate or rate, layout=layout)
            if bit_rate:
                audio.bit_rate = bit_rate
        video = None
        if video_codec is not None:
            video = out.add_stream(video_codec, rate=fps)
            video.width = video.height = 64
            video.pix_fmt = "yuv420p"
            video.codec_context.thread_count = 1
            if video_codec == "libx264":
                video.options = {"preset": "ultrafast", "crf": "40"}
        if video is not None:
            for frame in _video_frames(seconds, fps):
                out.mux(video.encode(frame))
            out.mux(video.encode(None))
        if audio is not None:
            for frame in _audio_frames(channels, rate):
                frame.pts += audio_delay
                out.mux(audio.encode(frame))
            out.mux(audio.encode(None))


def main(out_dir: Path = HERE) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    x = espeak(TEXT)
    r = ESPEAK_RATE
    sf.write(out_dir / "speech.wav", x, r, subtype="PCM_16")

    x8k = av_resample(x, r, 8000)
    sf.write(out_dir / "speech_8k_u8.wav", x8k.astype(np.float32) / 32768.0, 8000, subtype="PCM_U8")

    x44 = av_resample(x, r, 44100)
    stereo = np.stack([np.round(0.8 * x44), np.round(0.4 * x44)]).astype(np.int16)
    sf.write(out_dir / "speech_stereo_44k.flac", stereo.T, 44100, subtype="PCM_16")

    encode(out_dir / "speech.mp3", x, r, codec="libmp3lame", bit_rate=40_000)
    encode(out_dir / "speech.m4a", x, r, codec="aac", codec_rate=48000, bit_rate=48_000, container_format="ipod")
    encode(out_dir / "speech.opus", x, r, codec="libopus", codec_rate=48000, bit_rate=32_000, container_format="ogg")
    encode(out_dir / "speech.webm", x, r, codec="libopus", codec_rate=48000, bit_rate=32_000)
    encode(
        out_dir / "speech.mkv",
        np.stack([x, x]),
        r,
        codec="libopus",
        codec_rate=48000,
        layout="stereo",
        bit_rate=48_000,
        video_codec="mpeg4",
    )
    encode(out_dir / "speech.mp4", x, r, codec="aac", codec_rate=44100, bit_rate=48_000, video_codec="libx264")
    encode(out_dir / "speech.mov", x, r, codec="aac", codec_rate=16000, bit_rate=32_000, video_codec="mpeg4")
    encode(out_dir / "video_only.mp4", x, r, codec=None, video_codec="libx264")
    retake = espeak(TEXT, extra=("-s", "165", "-p", "65"))  # slower and higher: not a copy of speech.wav
    encode(out_dir / "speech_retake.opus", retake, r, codec="libopus", codec_rate=48000, bit_rate=32_000,
           container_format="ogg")
    encode(
        out_dir / "late_audio.mkv",
        x,
        r,
        codec="libopus",
        codec_rate=48000,
        bit_rate=24_000,
        video_codec="mpeg4",
        audio_delay=r // 2,
    )

    mp3 = (out_dir / "speech.mp3").read_bytes()
    (out_dir / "truncated.mp3").write_bytes(mp3[: len(mp3) * 6 // 10])
    m4a = bytearray((out_dir / "speech.m4a").read_bytes())
    mdat = m4a.index(b"mdat")
    glitch = np.random.default_rng(7).integers(0, 256, size=400, dtype=np.uint8).tobytes()
    m4a[mdat + 6000 : mdat + 6400] = glitch  # a few AAC packets in the middle no longer decode
    (out_dir / "glitch.m4a").write_bytes(bytes(m4a))

    head = (out_dir / "speech.mp4").read_bytes()[:300]
    garbage = np.random.default_rng(20240601).integers(0, 256, size=1700, dtype=np.uint8).tobytes()
    (out_dir / "broken.mp4").write_bytes(head + garbage)
    (out_dir / "not_media.mp4").write_text(
        "This is a text file with a video extension.\nሰላም ነው። ይህ የድምፅ ፋይል አይደለም።\n", encoding="utf-8"
    )

    total = 0
    for path in sorted(out_dir.iterdir()):
        if path.suffix != ".py":
            size = path.stat().st_size
            total += size
            print(f"{size:>8} {path.name}")
    print(f"{total:>8} total")


def av_resample(samples: np.ndarray, rate: int, new_rate: int) -> np.ndarray:
    """int16 mono ``samples`` resampled with FFmpeg's swresample (through PyAV), tail flushed."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=new_rate)
    parts = []
    for frame in [*_audio_frames(samples[None, :], rate), None]:
        parts.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(frame))
    return np.concatenate(parts).astype(np.int16)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
