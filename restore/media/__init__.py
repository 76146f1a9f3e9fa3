"""Media I/O: ffprobe facts, decoding to a bounded frame stream, encoding with stream mapping, atomic output.

Knows nothing of torch, models or stages.
"""

from restore.media.decode import VideoReader, read_frames
from restore.media.probe import probe, video_format

__all__ = ["VideoReader", "read_frames", "probe", "video_format"]
