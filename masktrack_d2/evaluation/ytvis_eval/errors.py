"""The metric's error and warning classes."""


class YTVISInputError(ValueError):
    """An input file or object the metric cannot score as it is; the message (one line) names
    the file, the video, the entry and the field. Base of the two classes below."""


class ResultsFormatError(YTVISInputError):
    """A results file or list cannot be scored as it is (the message says where and why)."""


class GroundTruthFormatError(YTVISInputError):
    """A YouTube-VIS annotation file cannot be used as ground truth."""


class YTVISEvalWarning(UserWarning):
    """Input that is scored, but probably not as the user meant (e.g. an empty results list)."""
