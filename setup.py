"""The one compiled module (everything else is in pyproject.toml): ``processor.duis._layout``, Cython against
lxml's public C API, which reads a parsed DUIS Request's scope without a Python object per node (issue 34)."""

import lxml
from Cython.Build import cythonize
from setuptools import Extension, setup

layout = Extension("processor.duis._layout", ["processor/duis/_layout.pyx"], include_dirs=lxml.get_include())
setup(ext_modules=cythonize([layout], language_level=3))
