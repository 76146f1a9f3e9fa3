"""basicsr 1.4.2 imports ``torchvision.transforms.functional_tensor``, removed in torchvision 0.17.

The one function it uses from there (``rgb_to_grayscale``) lives on in
``torchvision.transforms.functional``. We alias the module before basicsr is
imported rather than patching the installed package or depending on an
unofficial fork: upstream basicsr stays byte-identical and the fix is one line
we can delete when basicsr releases a fix. Import this module before basicsr.
"""

import sys

import torchvision.transforms.functional as _functional

sys.modules.setdefault("torchvision.transforms.functional_tensor", _functional)
