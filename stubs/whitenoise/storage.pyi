# WhiteNoise ships no type information (no py.typed): the one class the project subclasses
# (config/storage.py), typed as what it is in whitenoise/storage.py, a ManifestStaticFilesStorage.
from django.contrib.staticfiles.storage import ManifestStaticFilesStorage

class CompressedManifestStaticFilesStorage(ManifestStaticFilesStorage): ...
