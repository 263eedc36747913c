"""Decode the audio of any media file FFmpeg reads, without an ffmpeg binary: PyAV's bundled FFmpeg does it.

``load_audio(path, 16000)`` gives mono float32 in [-1, 1]; ``load_audio_rates`` decodes once for several rates;
``iter_audio`` streams the same samples block by block (long recordings without holding them whole);
``probe`` reports the chosen audio stream. Failures are ``MediaError`` (not a media file, no audio stream,
undecodable) or the ordinary ``FileNotFoundError``/``PermissionError``/``IsADirectoryError`` with the path.

Supported: whatever the ``av`` wheel's FFmpeg demuxes and decodes. Tested (``tests/data/media``): WAV (pcm_s16le,
pcm_u8), FLAC, MP3, MP4/M4A/MOV (AAC, alongside H.264/MPEG-4 video), Ogg Opus, WebM and Matroska (Opus, alongside
video), at 8-48 kHz, mono and stereo. The wheel also reads AVI, MPEG-TS, 3GP, WMA/ASF, Vorbis, AC-3, ALAC ...

How it decodes
--------------
* The stream: the first audio stream flagged *default*, else the first audio stream. Video, subtitle and data
  streams are not decoded. Metadata in broken encodings is read with replacement characters, never an error.
* Time 0 of every returned array is the container's start time, the 0:00 a player shows and that subtitles are
  timed against. Each decoded frame is placed on that timeline by its timestamp: audio that starts after the
  container does (a video whose sound begins late) and holes in the stream (packets that fail to decode are
  skipped) are filled with silence, so subtitle times index the array directly. Jumps under 5 ms (timestamp
  rounding: Matroska stores milliseconds) or over 30 s (timestamp discontinuities; 10 min for the start) are
  not filled.
* Codec padding: when the decoded stream runs past the end its container declares by less than 0.1 s (AAC's
  last frame in MP4/MOV), the excess is dropped; a larger difference means the declared duration is only an
  estimate, and all decoded audio is kept. So a full decode is ``round(probe(path).duration * rate)`` samples,
  within a sample or two.
* Each frame is converted to float (integer formats scaled to [-1, 1)), downmixed to mono as the mean of its
  channels, and fed to one streaming soxr resampler per output rate (quality "HQ"). Why not PyAV's
  ``AudioResampler(format="flt", layout="mono")``: swresample's stereo-to-mono matrix is 0.707 per channel,
  not the mean; its default filter is softer and, measured here, 3x slower; and soxr's stream gives the same
  samples however it is fed, which is what lets a slice equal the full decode. Decoding works frame by frame;
  only the output is kept, as a list of blocks concatenated once. The resampler is flushed at the end, so the
  tail is kept: the output has ``round(n * rate / native_rate)`` samples for ``n`` decoded ones. Lossy decoders
  can overshoot full scale; the output is clipped to [-1, 1].
* ``start``/``end``: the decoder seeks to 0.5 s before ``start`` (codec warm-up: Opus needs 80 ms, AAC and MP3
  one frame), decodes until 0.1 s past ``end``, and resamples from a native sample whose output position is a
  whole number, so a slice lines up with the full decode. It equals the full decode within float rounding for
  WAV, FLAC, MP3 and Ogg; AAC's noise substitution is random, so AAC slices differ slightly in noisy bands;
  Matroska/WebM timestamps are milliseconds, so slices there are placed within 0.5 ms. A slice has exactly
  ``round((end - start) * rate)`` samples, fewer only when the media ends before ``end``. A seek that lands
  late, or a stream without timestamps, falls back to decoding from the start.
* Speed (one CPU core): a 20-minute file decodes to 16 kHz in 0.5-2 s (WAV, MP3, AAC in MP4, Opus in WebM);
  a 10 s slice of it takes 10-30 ms, ``probe`` 3-20 ms. Memory: the output plus about as much again while the
  blocks are joined.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import av
import av.error
import numpy as np
import soxr

__all__ = ["MediaError", "MediaInfo", "iter_audio", "load_audio", "load_audio_rates", "probe"]

_PREROLL_S = 0.5  # decoded before a seek target and thrown away: codec warm-up
_SETTLE_S = 0.1  # resampled past each edge of a slice: the soxr filter's transient is ~10 ms
_GAP_TOLERANCE_S = 0.005  # timestamp jitter that is not a hole
_MAX_GAP_S = 30.0  # bigger timestamp jumps are discontinuities, not holes
_MAX_START_S = 600.0  # an audio stream starting later than this after the container is a timestamp error
_MAX_END_PADDING_S = 0.1  # decoded audio past the declared end that counts as codec padding
_TAIL_S = 1.0  # probe() decodes this much before the declared end to measure the real one
_ANCHOR_FRAMES = 3  # frames whose timestamps place the audio after a seek


class MediaError(RuntimeError):
    """A file FFmpeg cannot give audio for: not a media file, no audio stream, undecodable. Says which file."""


@dataclass
class MediaInfo:
    """The chosen audio stream of a media file (``probe``)."""

    path: str
    duration: float  # seconds: the length of what load_audio returns (decoded end of the stream from time 0)
    sample_rate: int  # of the stream
    channels: int
    codec: str  # "aac", "opus", "mp3", "pcm_s16le", "flac" ...
    container: str  # FFmpeg's demuxer name: "mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm", "wav" ...
    stream_index: int  # the audio stream chosen (the default, else the first audio stream)


def probe(path: str | os.PathLike) -> MediaInfo:
    """Facts about the audio stream ``load_audio`` would decode.

    The duration is measured, not copied from the header: the last second of the stream before the declared end
    is decoded (a few milliseconds of work), so it is exact where timestamps are. A container that declares no
    duration at all is decoded in full.
    """
    with _Source(path) as src:
        estimate = src.declared_end if src.declared_end is not None else src.container_end
        first = 0 if estimate is None else max(0, estimate - round(_TAIL_S * src.rate))
        end = _assemble(src, first, None, lambda block: None)
        codec = src.stream.codec_context.codec
        return MediaInfo(
            path=src.path,
            duration=end / src.rate,
            sample_rate=src.rate,
            channels=src.stream.codec_context.channels,
            codec=codec.canonical_name or codec.name,
            container=src.container.format.name,
            stream_index=src.stream.index,
        )


def load_audio(
    path: str | os.PathLike,
    sample_rate: int = 16000,
    *,
    start: float | None = None,
    end: float | None = None,
) -> np.ndarray:
    """Mono float32 in [-1, 1] at ``sample_rate``: the chosen audio stream decoded (video streams ignored),
    downmixed to mono (mean of channels), resampled; optionally only [start, end) seconds (seek, then trim exactly).

    A slice has ``round((end - start) * sample_rate)`` samples and equals the same slice of the full decode
    (fewer samples when the media ends first; none when ``start`` is past the end).
    """
    return load_audio_rates(path, [sample_rate], start=start, end=end)[sample_rate]


def load_audio_rates(
    path: str | os.PathLike,
    rates: Sequence[int],
    *,
    start: float | None = None,
    end: float | None = None,
) -> dict[int, np.ndarray]:
    """Decode once and resample to each of ``rates`` (e.g. 16000 for the speech encoders, 24000 for the codec).

    The arrays cover the same time span: their lengths agree to within a sample after scaling by the rate.
    """
    rates = _check_rates(rates)
    start, end = _check_span(start, end)
    with _Source(path) as src:
        sr = src.rate
        step = math.lcm(*(sr // math.gcd(sr, r) for r in rates))  # native samples per whole output sample, all rates
        margin = math.ceil(_SETTLE_S * sr)
        first = 0 if not start else max(0, (round(start * sr) - margin) // step * step)
        stop = None if end is None else round(end * sr) + margin
        sink = _Resamplers(sr, rates)
        _assemble(src, first, stop, sink.push)
        outputs = sink.finish()
    return {rate: _cut(audio, rate, sr, first, start, end) for rate, audio in outputs.items()}


def iter_audio(path: str | os.PathLike, sample_rate: int = 16000, *, block_s: float = 60.0) -> Iterator[np.ndarray]:
    """The whole of ``load_audio(path, sample_rate)`` as consecutive blocks of about ``block_s`` seconds, decoded in
    one pass: only a block (plus a frame) is held, so memory does not grow with the length of the media.

    Concatenated, the blocks equal ``load_audio``'s array sample for sample: the same timeline, the same streaming
    resampler fed the same frames (no seeking, so no Matroska millisecond placement either), the same clipping.
    """
    (rate,) = _check_rates([sample_rate])
    size = max(1, round(block_s * rate))
    with _Source(path) as src:
        sink = _Resamplers(src.rate, [rate])
        timeline = _Timeline(src, 0, None, sink.push, from_start=True)
        for _ in _place_frames(src, timeline):
            if sink.held(rate) >= size:
                block = sink.take(rate)  # a fresh array: clipped in place
                yield np.clip(block, -1.0, 1.0, out=block)
        timeline.finish()
        rest = sink.finish()[rate]
    if len(rest):
        yield np.clip(rest, -1.0, 1.0, out=rest)


def _cut(audio: np.ndarray, rate: int, native: int, first: int, start: float | None, end: float | None) -> np.ndarray:
    """[start, end) of ``audio``, which begins at native sample ``first`` (a whole output sample), clipped."""
    offset = round(start * rate) - first * rate // native if start else 0
    length = len(audio) if end is None else round((end - (start or 0.0)) * rate)
    piece = audio[offset : offset + length]
    if len(piece) < len(audio):
        piece = piece.copy()  # do not keep the decoded margins alive
    return np.clip(piece, -1.0, 1.0, out=piece)


# --------------------------------------------------------------------------------------------------- arguments


def _check_rates(rates: Sequence[int]) -> list[int]:
    if isinstance(rates, int):
        rates = [rates]
    checked = []
    for rate in rates:
        if isinstance(rate, bool) or int(rate) != rate or rate <= 0:
            raise ValueError(f"sample rates must be positive integers, got {rate!r}")
        if int(rate) not in checked:
            checked.append(int(rate))
    if not checked:
        raise ValueError("no sample rate asked for")
    return checked


def _check_span(start: float | None, end: float | None) -> tuple[float | None, float | None]:
    for name, value in (("start", start), ("end", end)):
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be a finite number of seconds >= 0, got {value!r}")
    if start is not None and end is not None and end < start:
        raise ValueError(f"end ({end}) is before start ({start})")
    return (None if start is None else float(start)), (None if end is None else float(end))


# ------------------------------------------------------------------------------------------- opening a source


class _SeekMissed(Exception):
    """A seek landed after the wanted sample, or gave frames without timestamps: decode from the start."""


class _Source:
    """An open media file with its chosen audio stream and its timeline facts (native sample indices)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = os.fspath(path)
        self.container = _open_container(self.path)
        try:
            self._setup()
        except BaseException:
            self.container.close()
            raise

    def _setup(self) -> None:
        self.stream = _pick_audio_stream(self.container, self.path)
        self.rate = int(self.stream.codec_context.sample_rate)
        if self.rate <= 0:
            raise MediaError(f"{self.path}: the audio stream has no sample rate (a damaged header?)")
        tb = self.stream.time_base
        if self.container.start_time is not None:
            self.origin = self.container.start_time / av.time_base
        elif self.stream.start_time is not None and tb is not None:
            self.origin = float(self.stream.start_time * tb)
        else:
            self.origin = 0.0
        self.declared_end: int | None = None  # native sample where the stream says it ends
        if self.stream.duration and tb is not None:
            stream_start = self.stream.start_time or 0
            self.declared_end = round((float((stream_start + self.stream.duration) * tb) - self.origin) * self.rate)
        self.container_end: int | None = None  # from the container's duration (all streams): a rougher guess
        if self.container.duration:
            self.container_end = round(self.container.duration / av.time_base * self.rate)

    def reopen(self) -> None:
        """Start again at the beginning (a fresh demuxer and decoder: cheaper and surer than seeking to 0)."""
        index = self.stream.index
        self.container.close()
        self.container = _open_container(self.path)
        self.stream = self.container.streams.get(index)[0]

    def close(self) -> None:
        self.container.close()

    def __enter__(self) -> _Source:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _open_container(path: str) -> av.container.InputContainer:
    with open(path, "rb"):  # FileNotFoundError / PermissionError / IsADirectoryError, with the path, from Python
        pass
    try:
        return av.open(path, metadata_errors="replace")
    except (av.error.FFmpegError, UnicodeError) as err:
        raise MediaError(
            f"{path}: not a media file FFmpeg can read, or a damaged/truncated one ({_reason(err)})"
        ) from err


def _pick_audio_stream(container: av.container.InputContainer, path: str) -> av.audio.stream.AudioStream:
    audio = list(container.streams.audio)
    if not audio:
        found = ", ".join(_describe(s) for s in container.streams) or "no streams at all"
        raise MediaError(f"{path}: no audio stream (found {found})")
    usable = [s for s in audio if s.codec_context is not None and s.codec_context.sample_rate > 0] or audio
    default = [s for s in usable if s.disposition & av.stream.Disposition.default]
    stream = (default or usable)[0]
    if stream.codec_context is None:
        raise MediaError(f"{path}: no decoder for its audio stream #{stream.index}")
    return stream


def _describe(stream: av.stream.Stream) -> str:
    try:
        name = stream.codec_context.name
    except Exception:  # a stream FFmpeg has no codec for
        name = "unknown codec"
    return f"{stream.type} ({name})"


def _reason(err: Exception) -> str:
    return getattr(err, "strerror", None) or str(err) or type(err).__name__


# ------------------------------------------------------------------------------------------- frames -> timeline


def _assemble(src: _Source, first: int, stop: int | None, emit: Callable[[np.ndarray], None]) -> int:
    """Decode ``src`` and pass its native mono samples from index ``first`` up to ``stop`` to ``emit``, in order.

    Seeks when ``first`` is far enough in; falls back to decoding from the start if the seek misses. Returns the
    index where the stream ends (known exactly only when decoding ran to the end; else at least ``stop``).
    """
    seek_s = first / src.rate - _PREROLL_S
    if seek_s > 0:
        try:
            return _assemble_once(src, first, stop, emit, seek_s)
        except _SeekMissed:
            src.reopen()
    return _assemble_once(src, first, stop, emit, None)


def _assemble_once(
    src: _Source, first: int, stop: int | None, emit: Callable[[np.ndarray], None], seek_s: float | None
) -> int:
    if seek_s is not None:
        try:
            if len(src.stream.index_entries) > 1:  # the audio has its own index (MP4/MOV, WAV): seek in it
                src.container.seek(round((src.origin + seek_s) / src.stream.time_base), stream=src.stream)
            else:  # AV_TIME_BASE units against the default stream, e.g. Matroska cues that index only the video
                src.container.seek(round((src.origin + seek_s) * av.time_base))
        except av.error.FFmpegError as err:
            raise _SeekMissed from err
    timeline = _Timeline(src, first, stop, emit, from_start=seek_s is None)
    for _ in _place_frames(src, timeline):
        if timeline.done:
            break
    return timeline.finish()


def _place_frames(src: _Source, timeline: _Timeline) -> Iterator[None]:
    """Decode ``src`` and add each frame to ``timeline`` at its timestamp; yields after each frame."""
    for frame in _decoded_frames(src):
        pts = None if frame.pts is None or frame.time_base is None else float(frame.pts * frame.time_base)
        index = None if pts is None else round((pts - src.origin) * src.rate)
        timeline.add(index, _mono(frame, src.rate))
        yield


class _Timeline:
    """Puts decoded frames at their sample index (time 0 = the container start) and emits the window
    [first, stop) in order. See the module docstring for holes, jitter and codec padding."""

    def __init__(self, src: _Source, first: int, stop: int | None, emit, *, from_start: bool) -> None:
        self.first, self.stop, self.emit = first, stop, emit
        self.pos: int | None = 0 if from_start else None  # index of the next sample to place
        rate = src.rate
        tb = float(src.stream.time_base) if src.stream.time_base else 0.0
        self.tolerance = max(round(_GAP_TOLERANCE_S * rate), math.ceil(2 * tb * rate))
        self.max_gap = round(_MAX_GAP_S * rate)
        self.max_start = round(_MAX_START_S * rate)
        self.cap = src.declared_end  # samples past it are held back until they prove not to be padding
        self.max_padding = round(_MAX_END_PADDING_S * rate)
        self.held: list[np.ndarray] = []
        self.held_len = 0
        self.placed_any = False
        self.pending: list[tuple[int, np.ndarray]] = []  # frames after a seek, until they are anchored

    def add(self, index: int | None, samples: np.ndarray) -> None:
        if not len(samples):
            return
        if self.pos is None:  # after a seek: anchored on the first few frames together (see _anchor)
            if index is None:
                raise _SeekMissed
            self.pending.append((index, samples))
            if len(self.pending) >= _ANCHOR_FRAMES:
                self._anchor()
            return
        if index is not None:
            jump = index - self.pos
            if not self.placed_any and jump < -self.tolerance:
                samples = samples[min(-jump, len(samples)) :]  # the stream starts before time 0: cut that off
            elif self.tolerance < jump <= (self.max_start if not self.placed_any else self.max_gap):
                self._place(np.zeros(jump, dtype=np.float32))  # late start or a hole: silence keeps the sync
        self.placed_any = True
        self._place(samples)

    def _anchor(self) -> None:
        """Place the first frames after a seek by the median of their timestamps less the samples before them.

        One frame's timestamp can be off: after a seek the decoder drops its start-up delay again and moves
        that frame's timestamp, which a millisecond time base (Matroska) then rounds a second time.
        """
        offsets, before = [], 0
        for index, samples in self.pending:
            offsets.append(index - before)
            before += len(samples)
        anchor = sorted(offsets)[(len(offsets) - 1) // 2]
        if anchor > self.first:  # the seek landed after the window: decode from the start instead
            raise _SeekMissed
        pending, self.pending = self.pending, []
        self.pos, self.placed_any = anchor, True
        for _, samples in pending:
            self._place(samples)

    @property
    def done(self) -> bool:
        reached = self.stop is not None and self.pos is not None and self.pos >= self.stop
        return reached and (self.cap is None or self.cap >= self.stop)

    def finish(self) -> int:
        if self.pos is None:
            if not self.pending:  # a seek that gave no frames at all
                raise _SeekMissed
            self._anchor()
        if self.held:  # within the allowance past the declared end: codec padding, dropped
            return self.cap
        return self.pos

    def _place(self, samples: np.ndarray) -> None:
        if not len(samples):
            return
        start = self.pos
        self.pos += len(samples)
        if self.cap is not None and self.pos > self.cap:
            keep = max(0, self.cap - start)
            self._window(start, samples[:keep])
            self.held.append(samples[keep:])
            self.held_len += len(samples) - keep
            if self.held_len > self.max_padding:  # real audio past a wrong declared end: keep it all
                held, self.held, self.held_len, cap = self.held, [], 0, self.cap
                self.cap = None
                for block in held:
                    self._window(cap, block)
                    cap += len(block)
            return
        self._window(start, samples)

    def _window(self, start: int, samples: np.ndarray) -> None:
        lo = max(0, self.first - start)
        hi = len(samples) if self.stop is None else min(len(samples), self.stop - start)
        if hi > lo:
            self.emit(samples[lo:hi])


def _decoded_frames(src: _Source) -> Iterator[av.AudioFrame]:
    """The chosen stream's frames. A packet that fails to decode is skipped (the timeline fills its time with
    silence) with a warning; a stream where most packets fail, or none decodes, is a ``MediaError``. A container
    that becomes unreadable partway ends the audio there, with a warning, as a truncated file does."""
    packets = failures = frames = 0
    last_error: Exception | None = None
    try:
        for packet in src.container.demux(src.stream):
            packets += 1
            try:
                decoded = packet.decode()
            except av.error.FFmpegError as err:
                failures, last_error = failures + 1, err
                continue
            frames += len(decoded)
            yield from decoded
    except av.error.FFmpegError as err:  # the container itself is damaged from here on
        if not frames:
            raise MediaError(f"{src.path}: cannot read its audio ({_reason(err)})") from err
        try:
            yield from src.stream.decode(None)  # what the decoder still holds
        except av.error.FFmpegError:
            pass
        warnings.warn(
            f"{src.path}: unreadable after audio packet {packets} ({_reason(err)}); the audio stops there",
            RuntimeWarning,
            stacklevel=2,
        )
    if failures and (frames == 0 or failures > packets // 2):
        raise MediaError(
            f"{src.path}: decode error: {failures} of {packets} audio packets failed ({_reason(last_error)})"
        )
    if failures:
        warnings.warn(
            f"{src.path}: {failures} of {packets} audio packets could not be decoded; their time is silence",
            RuntimeWarning,
            stacklevel=2,
        )


_INT_SCALE = {np.dtype(np.int16): 2.0**15, np.dtype(np.int32): 2.0**31, np.dtype(np.int64): 2.0**63}


def _mono(frame: av.AudioFrame, rate: int) -> np.ndarray:
    """One frame as mono float32 (mean of the channels), at ``rate`` even if the stream changed rate midway."""
    data = frame.to_ndarray()
    channels = frame.layout.nb_channels or 1
    if frame.format.is_packed and channels > 1:
        data = data.reshape(-1, channels).T
    if data.dtype == np.uint8:
        data = (data.astype(np.float32) - 128.0) / 128.0
    elif data.dtype in _INT_SCALE:
        data = data.astype(np.float32) / np.float32(_INT_SCALE[data.dtype])
    mono = data[0] if data.shape[0] == 1 else data.mean(axis=0)
    mono = np.asarray(mono, dtype=np.float32)
    if frame.sample_rate and frame.sample_rate != rate:
        mono = soxr.resample(mono, frame.sample_rate, rate).astype(np.float32)
    return mono


# ------------------------------------------------------------------------------------------------- resampling


class _Resamplers:
    """Streaming soxr resamplers from ``native`` to each rate; ``finish`` flushes them and joins the blocks."""

    def __init__(self, native: int, rates: Sequence[int]) -> None:
        self.streams = {r: (None if r == native else soxr.ResampleStream(native, r, 1, dtype="float32")) for r in rates}
        self.blocks: dict[int, list[np.ndarray]] = {r: [] for r in rates}

    def push(self, samples: np.ndarray) -> None:
        for rate, stream in self.streams.items():
            out = samples.copy() if stream is None else stream.resample_chunk(samples, last=False)
            if len(out):
                self.blocks[rate].append(out)

    def held(self, rate: int) -> int:
        """Output samples at ``rate`` resampled so far and not yet taken."""
        return sum(len(block) for block in self.blocks[rate])

    def take(self, rate: int) -> np.ndarray:
        """The output at ``rate`` so far, joined, and forgotten here (``iter_audio`` streams it on)."""
        blocks, self.blocks[rate] = self.blocks[rate], []
        return np.concatenate(blocks).astype(np.float32, copy=False) if blocks else np.zeros(0, np.float32)

    def finish(self) -> dict[int, np.ndarray]:
        result = {}
        for rate, stream in self.streams.items():
            if stream is not None:
                self.blocks[rate].append(stream.resample_chunk(np.zeros(0, dtype=np.float32), last=True))
            blocks = self.blocks.pop(rate)
            result[rate] = np.concatenate(blocks).astype(np.float32, copy=False) if blocks else np.zeros(0, np.float32)
        return result
