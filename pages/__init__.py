"""The app's pages: thin scripts over layers/ and maps/, sharing the frame in ``pages._common``."""
