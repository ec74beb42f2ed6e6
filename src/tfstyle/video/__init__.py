"""Video: stylising a clip without flicker.

* :mod:`tfstyle.video.pipelines`: the frame loop and its two paths, a trained network per frame
  (fast) or optimisation per frame with a temporal loss (best), and the resumable frame store;
* :mod:`tfstyle.video.codecs`: decoding and encoding (PyAV, FFmpeg inside), frame folders and image
  sequences;
* :mod:`tfstyle.video.flow`: optical flow, warping and the occlusion masks.

The temporal loss itself is a plain TensorFlow function in :mod:`tfstyle.objective.temporal`
(feed-forward training uses it too). Importing this package imports neither TensorFlow, PyAV nor
OpenCV.
"""

from .codecs import (INSTALL_HINT, Frame, FrameFolder, VideoError, VideoInfo, VideoWriter, check_output,
                     even_shape, is_frames_output, probe, read_frames, require_av, require_cv2)
from .pipelines import (RUN_FILE, STORE_SUFFIX, FeedForwardFrames, OptimisedFrames, VideoProgress, VideoResult,
                        frame_shape, frame_size, prepare_store, store_path, stylize_video, video_fingerprint)

__all__ = ["FeedForwardFrames", "OptimisedFrames", "VideoProgress", "VideoResult", "stylize_video", "store_path",
           "prepare_store", "video_fingerprint", "frame_shape", "frame_size", "RUN_FILE", "STORE_SUFFIX",
           "VideoError", "VideoInfo", "Frame", "FrameFolder", "VideoWriter", "probe", "read_frames",
           "check_output", "even_shape", "is_frames_output", "require_av", "require_cv2", "INSTALL_HINT"]
