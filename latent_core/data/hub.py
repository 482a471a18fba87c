"""Hugging Face ``datasets`` by name (online; cached copies work offline).

Spec ``hf:<name>`` with name in :data:`HUB_DATASETS`, optionally ``hf:<name>:<split>`` (default ``test``).
"""

from __future__ import annotations

from latent_core.data.base import Dataset, register_dataset
from latent_core.errors import DatasetUnavailableError, UnknownDatasetError
from latent_core.resources import hub_session, packages_installed

# name -> (hub id, item column, label column, modality)
HUB_DATASETS: dict[str, tuple[str, str, str, str]] = {
    "ag_news": ("fancyzhx/ag_news", "text", "label", "text"),
    "trec": ("CogComp/trec", "text", "coarse_label", "text"),
    "dbpedia_14": ("fancyzhx/dbpedia_14", "content", "label", "text"),
    "cifar10": ("uoft-cs/cifar10", "img", "label", "image"),
    "cifar100": ("uoft-cs/cifar100", "img", "fine_label", "image"),
}


@register_dataset("hf", "Hugging Face datasets (online): hf:ag_news, hf:trec, hf:dbpedia_14, hf:cifar10, hf:cifar100",
                  offline=False, kind="hub")
def load_hub_dataset(arg: str | None) -> Dataset:
    name, _, split = (arg or "").partition(":")
    if name not in HUB_DATASETS:
        raise UnknownDatasetError(f"Unknown hub dataset {name!r}: use one of {', '.join(HUB_DATASETS)}.")
    if not packages_installed("datasets"):
        raise DatasetUnavailableError("Hub datasets need the 'datasets' package: pip install datasets")
    hub_id, item_column, label_column, modality = HUB_DATASETS[name]
    split = split or "test"
    import datasets

    failure = None
    with hub_session() as online:  # offline, a copy in the local cache still loads
        try:
            table = datasets.load_dataset(hub_id, split=split)
        except Exception as exc:  # noqa: BLE001 - network and cache failures look alike
            failure = exc
    if failure is not None:
        reason = "offline: the hub cannot be reached" if not online else f"{type(failure).__name__}: {failure}"
        raise DatasetUnavailableError(
            f"Could not load hub dataset {hub_id} ({reason}). Offline datasets: bbc, fashion-mnist, digits, "
            "captions, or upload your own CSV/Parquet/zip."
        ) from failure
    label_names = list(table.features[label_column].names)
    return Dataset(name=f"hf:{name}:{split}", ids=[f"{name}/{split}/{i}" for i in range(len(table))],
                   items=list(table[item_column]), labels=table[label_column], label_names=label_names,
                   modality=modality)
