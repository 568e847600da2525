"""What the notebooks share once jaxgan imports: the repository's address and where offline dataset files are.

The notebooks' first cell installs jaxgan on Colab, so it cannot import anything from jaxgan and carries its own copy
of `REPO_URL`; tests/test_notebooks.py checks that copy, every Colab badge and the README's links against this module.
Nothing here imports JAX: a notebook may still have to set XLA flags after calling it.

`REPO_URL` is where the project expects to be published; nothing confirms yet that a repository exists there, so the
Colab badges and the install cell work only once it does (change it here and in the notebooks' first cell together).
"""

from __future__ import annotations

import os
from collections.abc import Iterable

REPO_URL = "https://github.com/jaxgan/jaxgan"
BRANCH = "main"


def colab_url(notebook: str) -> str:
  """The address that opens notebooks/<notebook>.ipynb of `REPO_URL`'s `BRANCH` in Colab.

  Args:
    notebook: the notebook's name without extension, e.g. "quickstart".

  Returns:
    https://colab.research.google.com/github/OWNER/REPO/blob/BRANCH/notebooks/<notebook>.ipynb
  """
  owner_repo = REPO_URL.removeprefix("https://github.com/")
  return f"https://colab.research.google.com/github/{owner_repo}/blob/{BRANCH}/notebooks/{notebook}.ipynb"


def data_dir_candidates(data_dir: str | None = None, checkout: str | None = None) -> list[str]:
  """Folders that may hold offline copies of datasets, in the order they are tried.

  Args:
    data_dir: a folder the user named (a notebook's `DATA_DIR`), or None.
    checkout: the root of a clone of the repository, or None.

  Returns:
    `data_dir`, then `$JAXGAN_DATA_DIR`, then `shared/datasets` beside the clone, leaving out the unset ones.
  """
  candidates = [
    data_dir,
    os.environ.get("JAXGAN_DATA_DIR"),
    os.path.join(checkout, "..", "shared", "datasets") if checkout else None,
  ]
  return [c for c in candidates if c]


def find_manual_dir(dataset: str, candidates: Iterable[str]) -> str | None:
  """The first `<candidate>/<dataset>` folder holding files: a tfds `manual_dir` for preparing `dataset` offline.

  tfds checks the files' names and checksums when it prepares the dataset, and `jaxgan.data.images` names any that
  are missing, so a folder is accepted here as soon as it holds something.

  Args:
    dataset: the tfds name, e.g. "mnist".
    candidates: folders to look in (e.g. from `data_dir_candidates`).

  Returns:
    The folder's path, or None when no candidate has one (tfds then downloads the dataset).
  """
  for candidate in candidates:
    folder = os.path.join(candidate, dataset)
    if os.path.isdir(folder) and any(entry.is_file() for entry in os.scandir(folder)):
      return folder
  return None
