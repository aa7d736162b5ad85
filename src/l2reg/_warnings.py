"""Where l2reg's warnings point: the first line outside the package.

A warning's ``stacklevel`` names the frame whose file and line Python shows.
A fixed number is right for one call path only: ``Ridge.fit`` reaches the
Cholesky solver's fallback through four l2reg frames, ``RidgeCV`` and
``ridge_path`` through others, and a fixed level then pointed into l2reg's
own modules, where the user can do nothing.  :func:`user_stacklevel` counts
the frames up to the first one outside l2reg, so every warning names the
user's line (or that of the library that called l2reg, such as
scikit-learn's ``cross_validate``).  Python 3.12's ``skip_file_prefixes``
does the same; l2reg still supports 3.11.
"""

from __future__ import annotations

import os
import sys

__all__ = ["user_stacklevel"]

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


def user_stacklevel() -> int:
    """The ``stacklevel`` for a ``warnings.warn`` in the calling function that
    names the first frame outside l2reg (1 would name the calling function)."""
    frame = sys._getframe(1)
    level = 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame = frame.f_back
        level += 1
    return level
