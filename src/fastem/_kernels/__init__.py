"""Compiled kernels. They never validate input: callers pass checked, C-contiguous arrays.

The OpenMP runtime reads its wait policy once, when it is loaded (with the first kernel
module). Unless the user chose one, fastem's threads wait passively (sleep) between
parallel regions instead of spinning: on a machine whose cores are busy with other
work, spinning threads take the cores that the working ones need. The variable is set
only while the runtime loads, so other libraries loaded later do not see it.
"""

import os as _os

_POLICY = "OMP_WAIT_POLICY"
_set_here = _POLICY not in _os.environ
if _set_here:
    _os.environ[_POLICY] = "PASSIVE"
try:
    from . import _parallel  # noqa: F401  (loads the OpenMP runtime)
finally:
    if _set_here:
        del _os.environ[_POLICY]
