"""The font a printed report is set in: one that covers Vietnamese, found through fontconfig
(the library WeasyPrint's Pango itself uses), so diacritics never come out as boxes."""

from __future__ import annotations

from functools import cache
from typing import Any

from cffi import FFI

from controller.reports.base import ReportError

#: Debian's fonts-dejavu-core; any other family covering Vietnamese will do when it is missing.
PREFERRED = ("DejaVu Sans", "DejaVu Serif")

_ffi = FFI()
_ffi.cdef(
    """
    typedef unsigned char FcChar8;
    typedef struct _FcPattern FcPattern;
    typedef struct _FcObjectSet FcObjectSet;
    typedef struct _FcConfig FcConfig;
    typedef struct { int nfont; int sfont; FcPattern **fonts; } FcFontSet;
    typedef enum { FcResultMatch, FcResultNoMatch, FcResultTypeMismatch, FcResultNoId,
                   FcResultOutOfMemory } FcResult;
    FcPattern *FcNameParse(const FcChar8 *name);
    FcObjectSet *FcObjectSetBuild(const char *first, ...);
    FcFontSet *FcFontList(FcConfig *config, FcPattern *p, FcObjectSet *os);
    FcResult FcPatternGetString(const FcPattern *p, const char *object, int n, FcChar8 **s);
    void FcFontSetDestroy(FcFontSet *s);
    void FcPatternDestroy(FcPattern *p);
    void FcObjectSetDestroy(FcObjectSet *os);
    """
)
_LIBRARY_NAMES = (
    "libfontconfig.so.1",
    "fontconfig",
    "libfontconfig-1.dll",
    "libfontconfig.1.dylib",
)


@cache
def _fontconfig() -> Any:
    for name in _LIBRARY_NAMES:
        try:
            return _ffi.dlopen(name)
        except OSError:
            continue
    raise ReportError("fontconfig is not installed: PDF reports need libfontconfig1 and Pango")


def vietnamese_families() -> list[str]:
    """The font families fontconfig knows that cover Vietnamese (sorted)."""
    fc = _fontconfig()
    pattern = fc.FcNameParse(b":lang=vi")
    objects = fc.FcObjectSetBuild(b"family", _ffi.NULL)
    fonts = fc.FcFontList(_ffi.NULL, pattern, objects)
    families: set[str] = set()
    try:
        value = _ffi.new("FcChar8 **")
        for i in range(fonts.nfont if fonts != _ffi.NULL else 0):
            n = 0
            # A font lists its family under several names (localised ones too).
            while fc.FcPatternGetString(fonts.fonts[i], b"family", n, value) == 0:
                families.add(_ffi.string(value[0]).decode("utf-8", "replace"))
                n += 1
    finally:
        if fonts != _ffi.NULL:
            fc.FcFontSetDestroy(fonts)
        fc.FcObjectSetDestroy(objects)
        fc.FcPatternDestroy(pattern)
    return sorted(families)


def vietnamese_font() -> str:
    """The family to print in: DejaVu Sans when installed, else any family covering
    Vietnamese; :class:`ReportError` when there is none (a PDF of boxes helps nobody)."""
    families = vietnamese_families()
    for family in PREFERRED:
        if family in families:
            return family
    if families:
        return families[0]
    raise ReportError(
        "no font covering Vietnamese was found through fontconfig; "
        "install one (Debian: apt-get install fonts-dejavu-core)"
    )
