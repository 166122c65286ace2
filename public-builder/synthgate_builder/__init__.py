"""synthgate public builder: turns a verified bundle into a populated synthetic database.

Runs outside the secure network. Row and story generators and ``ssg.py`` live only here.
"""

__version__ = "0.1.0"
