"""Nonsense words for the probes: pronounceable, 4-5 letters, unique, not English, seeded.

Made-up words keep pretraining out of the test: a model can only know what its
fine-tuning data (or its context) says about a ``femp``. Every word ends in a consonant
other than ``s``, so ``word + "s"`` is a regular plural that
:func:`~augment_ft.facts.relations.is_plural` reads as plural, and the
symbolic strategy's sentences agree with the probes' own.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

from augment_ft.core.errors import ConfigError
from augment_ft.text.entities import COMMON_WORDS

__all__ = ["ENGLISH_WORDS", "NonsenseWords", "is_english", "nonsense_words"]

# Word shapes: onset + vowel + coda. Codas avoid s, x and z (a plural +s stays regular) and
# vowels (plurals in -us/-is would read as singular).
_ONSET_TEXT = "b d f g k l m n p r t v z bl br dr fl fr gl gr kl kr pl pr tr sk sn sp st sw zw"
_CODA_TEXT = "b d f g k l m n p r t mp nd nk lt rk rp rm rn ft lm"
_ONSETS = tuple(_ONSET_TEXT.split())
_VOWELS = ("a", "e", "i", "o", "u")
_CODAS = tuple(_CODA_TEXT.split())

# Common English words of the shapes generated here (CVC, CVCC, CCVC, CCVCC) and their
# plurals' stems, plus words no probe should print. The check also consults
# augment_ft.text.entities.COMMON_WORDS.
_ENGLISH_TEXT = """
    band bank bend bent bind bird blab bland blend blimp blind blink blob blond blot blunt
    blur bold bolt bomb bond bonk born brag brand brim brink brunt bulb bulk bump bunk burn
    burp damp dark darn deft dent desk dial dig dim dint dirt dock doll dolt drab drag dram
    drank drift drink drip drop drub drug drum drunk dump dung dunk dusk felt fend fern film
    find firm flag flak flap flat fled flint flip flirt flit flog flop fluff flung flunk fold
    fond font fork form frank fret frill frog from frond front fund funk furl gift gild gilt
    gird girl glad glen glib glint glob glum glut golf gong grab grand grant grid grim grin
    grip grit grub grump grunt gulf gulp gum gunk hand kelp kept kid kiln kilt kind king kink
    kirk knob lamp land lank lard lark lend lent lift limb limp link lint loft lord lump lurk
    malt mend milk mild mint mold monk mound munk murk pelt pend pink plan plank plant plod
    plop plot plum plump plunk pond pork prank prim print prod prom prong prop prude pulp
    pump punk rank rant rift rind rink romp rump rung runt salt sift silk silt skid skim skin
    skip skirt skulk skunk slab slag slam slant slap sled slid slim slit slob slog slop slot
    slug slum slump slunk slur smog snag snap snip snob snub snug spank spat sped spend spent
    spin spit splint spot sprig spud spun spur stab stag stamp stand stank star stem step stir
    stomp stop stub stud stuff stump stun stung stunk sulk swam swamp swan swig swim swirl
    swum tab tad tag tamp tank tarp temp tend tent term tilt tint tomb tramp trap trend trim
    trip trod trot trunk tuft tug tulip tump turf turn twig twin veld vend vent volt vomit
    bark barn berg bilk bulb bunt burb darb dolt dorm drib felt film fink fund gamp gelt gild
    gird golf gulf helm kemp kern kind kink lift limn melt molt mulk pulk punt rump sulk tamp
    tink tolt vamp verb wink zing
    damn dick dumb fart frig pimp porn pubd slut turd twat wank prick cunt
"""

ENGLISH_WORDS: frozenset[str] = frozenset(_ENGLISH_TEXT.split()) | COMMON_WORDS
"""Words the generator refuses: an embedded list of short English words and the common
words of :mod:`augment_ft.text.entities`."""


def is_english(word: str) -> bool:
    """True when ``word``, or it with a plural ``s`` removed, is a known English word."""
    lowered = word.lower()
    return lowered in ENGLISH_WORDS or lowered.removesuffix("s") in ENGLISH_WORDS


def _candidate(rng: random.Random) -> str:
    """One pronounceable shape: onset, vowel, coda."""
    return rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS)


class NonsenseWords:
    """A seeded source of unique nonsense words; ``take(n)`` continues where it stopped.

    ``seed`` may be a string, so each probe draws its own stream (``"semantic:0"``);
    ``exclude`` lists words that must not come out (words already in use elsewhere).
    """

    def __init__(self, seed: int | str = 0, *, exclude: Iterable[str] = ()) -> None:
        self._rng = random.Random(f"augment_ft.evals.words:{seed}")
        self._used: set[str] = {w.lower() for w in exclude}

    def take(self, n: int) -> list[str]:
        """``n`` new words, each 4-5 letters, none English, none given out before."""
        if n < 0:
            raise ConfigError(f"NonsenseWords.take(n) needs n >= 0, got {n}")
        words: list[str] = []
        attempts = 0
        while len(words) < n:
            attempts += 1
            if attempts > 200 * (n + 10):
                msg = f"could not find {n} more nonsense words (have {len(self._used)})"
                raise ConfigError(msg + "; ask for fewer words")
            word = _candidate(self._rng)
            if not 4 <= len(word) <= 5 or word in self._used or is_english(word):
                continue
            self._used.add(word)
            words.append(word)
        return words


def nonsense_words(n: int, seed: int | str = 0) -> list[str]:
    """``n`` unique nonsense words; the same seed always gives the same list."""
    return NonsenseWords(seed).take(n)
