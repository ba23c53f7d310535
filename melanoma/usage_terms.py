"""The terms a model's weights carry, from the data it was trained on.

Weights trained on licensed images carry the images' licence: HAM10000's CC BY-NC 4.0
makes the bundled models non-commercial (melanoma/NOTICE). The toolkit cannot know the
licence of a user's own data, so it recognises only data sets it knows by their exact
pixels (Dataset.fingerprint) and otherwise says the terms were not stated, which is not
a licence to use them.
"""

from __future__ import annotations

from dataclasses import dataclass

NOT_STATED = "not stated"


@dataclass(frozen=True)
class UsageTerms:
    license: str  # SPDX licence expression, e.g. "CC-BY-NC-4.0"; NOT_STATED when unknown
    attribution: str | None  # the source the licence asks to credit; None when not stated


HAM10000 = UsageTerms(
    license="CC-BY-NC-4.0",
    attribution=(
        "Trained on HAM10000: Tschandl, P., Rosendahl, C. & Kittler, H., Sci. Data 5, "
        "180161 (2018), https://doi.org/10.1038/sdata.2018.161; non-commercial use only"
    ),
)
UNSTATED = UsageTerms(license=NOT_STATED, attribution=None)

# Data sets recognised by Dataset.fingerprint (every decoded pixel and label), with the
# terms of the images in them. 4cb40fd51aa4d9e0: the liveProject MelanomaDetection set
# (HAM10000 images), which trained both bundled models; a subset or another copy of its
# images in another layout has another fingerprint and is not recognised.
KNOWN_DATA: dict[str, UsageTerms] = {"4cb40fd51aa4d9e0": HAM10000}


def is_stated(value: object) -> bool:
    """A licence or attribution that says something: a string not blank by Python's strip(),
    which the checkpoint's and the manifest's readers apply alike (and the app's
    ManifestParser mirrors)."""
    return isinstance(value, str) and value.strip() != ""


def terms_of_data(fingerprint: str) -> UsageTerms:
    """The terms of a known data set, else UNSTATED."""
    return KNOWN_DATA.get(fingerprint, UNSTATED)
