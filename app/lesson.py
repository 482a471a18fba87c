"""The Learn page's lesson: what each step says (no Streamlit, no computation).

A guided class of 30 to 50 minutes, one idea per step. Every step has a short explanation, its formula (LaTeX for
``st.latex``), the label of the one control the learner plays with, and a "what to notice" line; the page
(``app/views/learn.py``) adds a figure from the live data of the sidebar's scenario. Teachers can edit the text
here without touching the page.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    key: str  # stable id (session-state keys, tests)
    short: str  # the step indicator's label
    title: str
    minutes: int  # suggested class time
    explanation: str  # markdown
    formula: str  # LaTeX for st.latex
    notice: str  # the "what to notice" line (markdown)
    control: str  # the control's label
    control_help: str


STEPS: tuple[Step, ...] = (
    Step(
        key="incompatible",
        short="1 · Two encoders",
        title="Two encoders, the same data: incompatible coordinates",
        minutes=5,
        explanation=(
            "Encoders **A** and **B** read the *same* samples, yet each invents its own coordinate system: "
            "different axes, often a different number of dimensions. A classifier $f_A$ trained on A's vectors "
            "reads coordinates, not meaning, so fed B's raw vectors of the very same samples it guesses. "
            "Below: each space mapped on its own (PCA), and A's classifier tested on A and on B."
        ),
        formula=(r"f_A(x) = \operatorname{softmax}(W x + b) \qquad f_A\big(E_A(s)\big)\ \checkmark"
                 r"\qquad f_A\big(E_B(s)\big)\ \times \quad\text{because}\quad E_B(s) \approx R\,E_A(s),"
                 r"\ R\ \text{unknown}"),
        notice=("Both maps separate the classes well, but in unrelated positions. A's classifier scores high on "
                "A and about chance on B's raw vectors, and even on A's own vectors once rotated: the knowledge is "
                "there, the coordinates do not match."),
        control="Feed A's classifier with",
        control_help="A rotation changes every coordinate and no angle between samples: even the same encoder, "
                     "rotated, is a foreign space to a classifier.",
    ),
    Step(
        key="angles",
        short="2 · Angles survive",
        title="What survives: the angles between samples",
        minutes=5,
        explanation=(
            "Compare *samples with each other* instead of reading coordinates. Take K **anchor** samples and the "
            "cosine similarity of every pair of anchors, once in A and once in B. A rotation (or a rescaling) of "
            "a space changes every coordinate but no angle, so if B is roughly a rotated A, the two matrices "
            "look alike. Anchors are sorted by class."
        ),
        formula=(r"\cos(x, y) = \frac{x^\top y}{\lVert x\rVert\,\lVert y\rVert}, \qquad "
                 r"\cos(Rx, Ry) = \cos(x, y)\ \text{ for } R^\top R = I, \qquad "
                 r"S_A = \hat X_a \hat X_a^\top \;\approx\; S_B = \hat Y_a \hat Y_a^\top"),
        notice=("The same block pattern appears in A and B: anchors of one class are similar to each other in "
                "both encoders. The correlation of the two matrices says how far the angles agree."),
        control="Anchors shown in the heatmaps",
        control_help="More anchors show the class blocks; fewer make single cells readable.",
    ),
    Step(
        key="relative",
        short="3 · Relative",
        title="Relative representations: describe each sample by its anchors",
        minutes=6,
        explanation=(
            "Replace each vector by its similarities to the K anchors (Moschella et al., 2023). Both encoders now "
            "speak the same K-dimensional language: dimension k means *how similar am I to anchor k*. Left: the "
            "relative space of A. Right: the relative space of B, placed by **A's map** (the PCA fitted on "
            "relative A), so the panels can only agree if the spaces do."
        ),
        formula=(r"\operatorname{rel}(x) = \big[\,\operatorname{sim}(x, a_1),\ \dots,\ \operatorname{sim}(x, a_K)\,"
                 r"\big] \in \mathbb{R}^K, \qquad \operatorname{rel}_A(s) \approx \operatorname{rel}_B(s)"),
        notice=("Relative B lands where relative A is, class by class, although B was never fitted to A. "
                "Cosine is the similarity that is invariant to rotations; try others and watch the agreement."),
        control="Similarity to the anchors",
        control_help="cosine: invariant to rotation and scale; +center: subtract the anchors' mean first; "
                     "euclidean / l1 / linf: distances (other invariances).",
    ),
    Step(
        key="stitching",
        short="4 · Stitching",
        title="Zero-shot stitching: A's classifier reads B",
        minutes=6,
        explanation=(
            "Train the classifier once, on A's **relative** vectors. At test time, feed it B's relative vectors "
            "(the same anchors, embedded by B). No retraining, no B labels: the classifier is *stitched* to a "
            "new encoder. One split: anchors, training and test samples are disjoint; the test samples are "
            "never used for anything else."
        ),
        formula=(r"\hat y = f_{\mathrm{rel}}\big(\operatorname{rel}_B(E_B(s))\big), \qquad "
                 r"f_{\mathrm{rel}} \text{ trained on } \operatorname{rel}_A(E_A(s_{\text{train}}))"),
        notice=("On A (no stitch) the relative classifier is about as good as the absolute one; on B the "
                "absolute classifier collapses to chance while the relative one keeps most of its accuracy."),
        control="Direction",
        control_help="Stitching works both ways: train on either encoder, test on the other.",
    ),
    Step(
        key="translation",
        short="5 · Translation",
        title="Translation: rotate B onto A",
        minutes=6,
        explanation=(
            "Instead of leaving both spaces for a relative one, estimate the map from B to A on the anchors "
            "(Maiorca et al., 2023): standard-scale both sides with their anchor statistics, zero-pad to the "
            "same dimension, and fit the best **rotation** (orthogonal Procrustes). Then every B vector can be "
            "carried into A and used with anything built for A. Below: A's map with A's points (●) and B's "
            "points translated into A (✕), both placed by the same PCA of A."
        ),
        formula=(r"R^\star = \arg\min_{R^\top R = I} \lVert Y_a R - X_a \rVert_F = U V^\top, \qquad "
                 r"U \Sigma V^\top = \operatorname{SVD}\big(Y_a^\top X_a\big), \qquad \hat x = y\,R^\star"),
        notice=("The crosses (B translated) sit on top of the circles (A) of the same class, although the "
                "rotation saw only the anchors. The mean cosine between a sample's A vector and its translated "
                "B vector measures how well they land."),
        control="Translator (fitted on the anchors)",
        control_help="procrustes: a rotation; linear / affine: least squares (more freedom, needs more anchors); "
                     "lortho: least squares then the nearest rotation; inverse_relative: through the relative space.",
    ),
    Step(
        key="unpaired",
        short="6 · No anchors",
        title="No anchors at all: the geometry gives the pairs away",
        minutes=6,
        explanation=(
            "Steps 4 and 5 needed anchors: samples *known* to be the same in A and B. Here nobody says which is "
            "which. The algorithm gets A's vectors and B's vectors of the same samples, B's in a **hidden order** "
            "(shuffled), and no pair. If the angles survive (step 2), each space's matrix of distances between "
            "its own samples is the other's, reordered, and the reordering can be searched for: entropic "
            "**Gromov-Wasserstein** optimal transport finds the soft matching $T$ under which the two distance "
            "matrices agree; its mutual best matches become pairs, Procrustes on them the rotation of step 5, "
            "refined a few times. Only samples outside the test set are matched; the accuracies are measured on "
            "the test samples. Below: B translated into A by the map found (✕) over A's map (●), and the "
            "stitched accuracy next to the same rotation fitted on true anchors."
        ),
        formula=(r"T^\star = \arg\min_{T \in \Pi(\frac1n, \frac1n)}\ \sum_{i,j,k,l}"
                 r"\big(C_A[i,k] - C_B[j,l]\big)^2\, T_{ij}\, T_{kl} \;-\; \varepsilon H(T), \qquad "
                 r"C[i,k] = 1 - \cos(x_i, x_k), \qquad "
                 r"R^\star = \arg\min_{R^\top R = I} \sum_{(i,j):\ T^\star_{ij}\ \text{mutual best}}"
                 r"\lVert y_j R - x_i \rVert^2"),
        notice=("With no pairs at all, most recovered pairs are exactly the right sample, and B's vectors "
                "translated by the map found are classified about as well as with true anchors: the shape of the "
                "data alone gives the correspondence away. A few known pairs, grown by bootstrapping, get there "
                "too. It is this easy because both sides hold the same samples: with different samples on each "
                "side no exact counterpart exists, and matching is much harder."),
        control="Known pairs given to the algorithm",
        control_help="0: none at all (unsupervised alignment). 3, 10 or 30: that many of B's samples are named, "
                     "and the rest are found by bootstrapping (Cannistraci et al., 2023): match samples whose "
                     "relative representations agree, add the confident matches, repeat.",
    ),
    Step(
        key="anchors",
        short="7 · Anchors",
        title="How many anchors, and which?",
        minutes=6,
        explanation=(
            "Anchors are the only parallel data stitching needs: samples embedded by both encoders. How many "
            "are enough, and does it matter which? Choose a count and a strategy: the stitched accuracy is "
            "recomputed on the same split as step 4 (the anchors are drawn from one fixed pool, so the training "
            "and test samples stay the same). Every choice you try is added to the chart."
        ),
        formula=(r"K = |\mathcal{A}|, \qquad \text{FPS: } a_{k+1} = \arg\max_{x}\ \min_{j \le k}"
                 r"\lVert x - a_j \rVert, \qquad \text{k-means: } a_k = \text{sample nearest centroid } k"),
        notice=("A handful of anchors already lifts stitching far above chance; accuracy then saturates. "
                "With few anchors, spread-out choices (k-means, stratified, FPS) usually beat random ones."),
        control="Anchors",
        control_help="The count and the strategy used to pick them from the pool (always on A's space).",
    ),
    Step(
        key="crossmodal",
        short="8 · Across modalities",
        title="Across modalities: ASIF and CLIP",
        minutes=7,
        explanation=(
            "An image encoder and a text encoder that never met can still be connected through **parallel "
            "anchors**: K images with their captions (ASIF, Norelli et al., 2022). An image is described by its "
            "similarities to the K anchor images, a text by its similarities to the K anchor captions; both "
            "vectors live in the same K-dimensional space. Sparsify (keep the top-k entries, raise them to a "
            "power), then classify an image zero-shot by the class prompt (*a photo of a …*) whose vector is "
            "closest. No training at all."
        ),
        formula=(r"\operatorname{rel}_I(v) = \big[\cos(E_I(v), E_I(v_k))\big]_{k=1}^{K}, \quad "
                 r"\operatorname{rel}_T(t) = \big[\cos(E_T(t), E_T(c_k))\big]_{k=1}^{K}, \quad "
                 r"\hat y = \arg\max_{c}\ \cos\big(\operatorname{rel}_I(v),\ "
                 r"\operatorname{rel}_T(\text{“a photo of a } c\text{”})\big)"),
        notice=("With only captions as a bridge, the image encoder's pictures are classified far above chance, "
                "close to a k-NN that reads the anchors' labels. Move the slider: more pairs help. CLIP needs no "
                "anchor pairs at all, because its two towers were trained together."),
        control="Anchor image/caption pairs (K)",
        control_help="How many image/caption pairs connect the two encoders.",
    ),
)

CLIP_FORMULA = (r"\hat y = \arg\max_{c}\ \cos\big(E^{\mathrm{CLIP}}_{I}(v),\ "
                r"E^{\mathrm{CLIP}}_{T}(\text{“a photo of a } c\text{”})\big)")
CLIP_TEXT = (
    "**CLIP** (Radford et al., 2021) learns the two towers *together*, on 400 million image/caption pairs, so that "
    "an image and its caption land on nearby vectors of one shared space: zero-shot classification is then a "
    "single cosine between the image and each class prompt. ASIF gets there without that joint training, with "
    "a few hundred pairs. CLIP's weights come from the model hub the first time they are used "
    "(`clip:ViT-B-32/openai`); this machine is offline, so the lesson shows ASIF on the encoders installed with "
    "the app. On a connected machine, choose the *CIFAR-10: CLIP image vs EfficientNet-Lite0* preset to explore "
    "CLIP's image space."
)

INTRO = (
    "A guided tour of latent space communication, about {minutes} minutes, on the scenario chosen in the sidebar "
    "(default: MiniLM vs MPNet on BBC News, offline). Every figure is computed live; each step has one control "
    "to play with. Turn on **presenter mode** for a projector."
)

PRESENTER_CSS = """
<style>
[data-testid="stMain"] [data-testid="stMarkdownContainer"] p,
[data-testid="stMain"] [data-testid="stMarkdownContainer"] li { font-size: 1.45rem; line-height: 1.5; }
[data-testid="stMain"] [data-testid="stCaptionContainer"] p { font-size: 1.15rem; }
[data-testid="stMain"] h1 { font-size: 3rem; }
[data-testid="stMain"] h2 { font-size: 2.3rem; }
[data-testid="stMain"] .katex { font-size: 1.7em; }
[data-testid="stMain"] [data-testid="stWidgetLabel"] p { font-size: 1.25rem; }
[data-testid="stMain"] [data-testid="stButton"] button p { font-size: 1.25rem; }
[data-testid="stMain"] [data-testid="stButtonGroup"] p { font-size: 1.1rem; }
[data-testid="stMain"] [data-baseweb="select"] div { font-size: 1.2rem; }
</style>
"""


def total_minutes() -> int:
    return sum(step.minutes for step in STEPS)
