"""The notebooks in notebooks/: each .ipynb stored without outputs and in sync with its jupytext .py, the cells they
share identical, the Colab links those of `jaxgan.runtime`, and every notebook run top to bottom.

Each run follows the notebook's `parameters` cell with a cell of small values, as papermill injects them, and executes
it in a fresh IPython kernel (nbclient) from notebooks/, as Jupyter would. The figures of every run are written as PNG
files to $JAXGAN_NOTEBOOK_FIGURES when set (to look at them), else to the test's temporary folder. The MNIST notebooks
read the original files from $JAXGAN_DATA_DIR/mnist (see conftest.py) and skip, saying why, without them.
"""

import base64
import json
import os
import pathlib
import re
import time

import jupytext
import nbformat
import pytest
from jupytext.config import load_jupytext_config
from nbclient import NotebookClient

from jaxgan import runtime

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
NAMES = ("quickstart", "gan_zoo_toy", "mnist_wgan_gp", "tpu_pmap", "deligan_lowdata")
TIMEOUT_S = 600  # per cell

# Small enough that all five run in a few minutes on two CPU cores; every code path still runs.
TINY_MNIST = {"BATCH_SIZE": 8, "BASE_FEATURES": 4, "NUM_REAL": 300, "PROGRESS": False}
SMALL = {
  "quickstart": {"NUM_STEPS": 40, "BATCH_SIZE": 64, "HIDDEN": (16,), "LOG_EVERY": 5},
  "gan_zoo_toy": {"NUM_STEPS": 4, "BATCH_SIZE": 32, "HIDDEN": (8,), "NUM_SAMPLES": 300, "PROGRESS": False},
  "tpu_pmap": {"NUM_STEPS": 3, "BATCH_SIZE": 32, "N_CRITIC": 2, "HIDDEN": (8,), "TRAIN_STEPS": 3, "PROGRESS": False},
  "mnist_wgan_gp": {
    **TINY_MNIST,
    "NUM_STEPS": 4,
    "STAGES": 2,
    "N_CRITIC": 1,
    "STAGE_SAMPLES": 256,
    "NUM_EVAL_SAMPLES": 256,
    "CGAN_STEPS": 2,
  },
  "deligan_lowdata": {**TINY_MNIST, "NUM_IMAGES": 200, "NUM_STEPS": 2, "NUM_EVAL_SAMPLES": 256},
}
# Figures each notebook shows (one PNG per plt.show()).
FIGURES = {"quickstart": 4, "gan_zoo_toy": 2, "mnist_wgan_gp": 4, "tpu_pmap": 1, "deligan_lowdata": 4}


def _figures_dir(tmp_path: pathlib.Path) -> pathlib.Path:
  folder = pathlib.Path(os.environ.get("JAXGAN_NOTEBOOK_FIGURES") or tmp_path)
  folder.mkdir(parents=True, exist_ok=True)
  return folder


def inject_parameters(notebook: nbformat.NotebookNode, parameters: dict) -> None:
  """Adds a cell tagged `injected-parameters` that sets `parameters`, right after the cell tagged `parameters`."""
  index = next(i for i, cell in enumerate(notebook.cells) if "parameters" in cell.metadata.get("tags", []))
  source = "\n".join(f"{name} = {value!r}" for name, value in parameters.items())
  cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
  cell.id = "injected-parameters"
  notebook.cells.insert(index + 1, cell)


@pytest.fixture(scope="module")
def compilation_cache(tmp_path_factory):
  """A JAX compilation cache shared by the notebooks of this session: legs of one run, and the parallel step that
  the notebook times and then trains with, compile the same programs in new closures."""
  return str(tmp_path_factory.mktemp("jax_cache"))


def run_notebook(
  name: str,
  parameters: dict,
  out_dir: pathlib.Path,
  compilation_cache: str | None = None,
  fast_compile: bool = True,
  timeout: int | None = TIMEOUT_S,
) -> tuple[nbformat.NotebookNode, list]:
  """Executes notebooks/<name>.ipynb with `parameters`; writes the executed copy and its PNG figures to `out_dir`.

  Args:
    compilation_cache: a folder for JAX's persistent compilation cache, or None.
    fast_compile: XLA optimises less; compiling is most of a tiny run's time (off for runs of real length).
    timeout: seconds a cell may run (None: no limit).

  Returns:
    (the executed notebook, the paths of its figures).
  """
  notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
  inject_parameters(notebook, parameters)
  env = dict(os.environ)
  env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
  env.pop("MPLBACKEND", None)  # the kernel's inline backend turns each figure into a PNG output
  # The notebook sets its own fake device count.
  flags = [f for f in env.get("XLA_FLAGS", "").split() if "xla_force_host_platform_device_count" not in f]
  env["XLA_FLAGS"] = " ".join([*flags, *(["--xla_backend_optimization_level=0"] if fast_compile else [])])
  if compilation_cache:
    env["JAX_COMPILATION_CACHE_DIR"] = compilation_cache
  client = NotebookClient(
    notebook, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
  )
  start = time.perf_counter()
  client.execute(env=env)
  print(f"{name}: executed in {time.perf_counter() - start:.1f} s")
  nbformat.write(notebook, out_dir / f"{name}.executed.ipynb")
  figures = []
  for index, cell in enumerate(notebook.cells):
    for output in cell.get("outputs", []):
      png = output.get("data", {}).get("image/png")
      if png:
        path = out_dir / f"{name}-{index:02d}-{len(figures)}.png"
        path.write_bytes(base64.b64decode(png))
        figures.append(path)
  return notebook, figures


def _text(notebook: nbformat.NotebookNode) -> str:
  parts = []
  for cell in notebook.cells:
    for output in cell.get("outputs", []):
      parts.append(output.get("text", "") or output.get("data", {}).get("text/plain", ""))
      parts.append(output.get("data", {}).get("text/markdown", ""))
  return "\n".join(parts)


# ------------------------------------------------------------------------------------------ the stored notebooks


SYNC_HINT = "run `jupytext --sync notebooks/{name}.ipynb` after editing either file of the pair"


def _code_cells(notebook: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
  return [cell for cell in notebook.cells if cell.cell_type == "code"]


@pytest.mark.parametrize("name", NAMES)
def test_stored_notebook_has_no_outputs(name):
  raw = json.loads((NOTEBOOKS / f"{name}.ipynb").read_text())
  for cell in raw["cells"]:
    if cell["cell_type"] == "code":
      assert cell["outputs"] == [], f"{name}.ipynb keeps outputs; clear them (Edit > Clear outputs) and save"
      assert cell["execution_count"] is None, f"{name}.ipynb keeps execution counts; clear the outputs and save"


def test_every_notebook_is_a_pair():
  """Each notebook is an .ipynb with its jupytext percent-format .py beside it, paired by notebooks/jupytext.toml."""
  assert {p.stem for p in NOTEBOOKS.glob("*.ipynb")} == set(NAMES)
  assert {p.stem for p in NOTEBOOKS.glob("*.py")} == set(NAMES)
  assert load_jupytext_config(str(NOTEBOOKS)).formats == ["ipynb,py:percent"]


@pytest.mark.parametrize("name", NAMES)
def test_pair_is_in_sync(name):
  """The .py is exactly what jupytext writes from the .ipynb (so `jupytext --sync` would change nothing), and
  reading the .py back gives the .ipynb's cells: types, sources, tags, and the Colab metadata."""
  config = load_jupytext_config(str(NOTEBOOKS))
  notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
  text = (NOTEBOOKS / f"{name}.py").read_text()
  assert jupytext.writes(notebook, fmt="py:percent", config=config) == text, (
    f"notebooks/{name}.py and {name}.ipynb differ; " + SYNC_HINT.format(name=name)
  )
  paired = jupytext.reads(text, fmt="py:percent", config=config)
  assert [(c.cell_type, c.source, c.metadata.get("tags")) for c in paired.cells] == [
    (c.cell_type, c.source, c.metadata.get("tags")) for c in notebook.cells
  ], SYNC_HINT.format(name=name)
  for key in ("colab", "accelerator"):
    assert paired.metadata.get(key) == notebook.metadata.get(key)


def test_shared_cells_are_identical():
  """What the notebooks share is written once per notebook; this keeps the copies equal: the first code cell (the
  install, which runs before jaxgan can be imported) in all, and the MNIST data cells in the MNIST notebooks."""
  notebooks = {name: nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4) for name in NAMES}
  setups = {name: _code_cells(nb)[0].source for name, nb in notebooks.items()}
  # tpu_pmap adds its fake-device block inside the cell; the rest is the same text.
  plain = setups["quickstart"]
  for name, source in setups.items():
    if name == "tpu_pmap":
      head, tail = plain.split("\n\nif importlib.util.find_spec")
      assert source.startswith(head) and source.endswith("if importlib.util.find_spec" + tail), name
    else:
      assert source == plain, f"the setup cell of {name} differs from quickstart's; make them equal"
  mnist = [[c.source for c in notebooks[name].cells[2:6]] for name in ("mnist_wgan_gp", "deligan_lowdata")]
  assert mnist[0][1:3] == mnist[1][1:3], "the MNIST data cells of the two MNIST notebooks differ"


def test_find_manual_dir(tmp_path, monkeypatch):
  empty, full = tmp_path / "empty", tmp_path / "full"
  (empty / "mnist").mkdir(parents=True)
  (full / "mnist").mkdir(parents=True)
  (full / "mnist" / "train-images-idx3-ubyte.gz").write_bytes(b"")
  monkeypatch.setenv("JAXGAN_DATA_DIR", str(full))
  assert runtime.data_dir_candidates(str(empty)) == [str(empty), str(full)]
  assert runtime.find_manual_dir("mnist", runtime.data_dir_candidates(str(empty))) == str(full / "mnist")
  assert runtime.find_manual_dir("cifar10", runtime.data_dir_candidates(str(empty))) is None


@pytest.mark.parametrize("readme", ["README.md", "notebooks/README.md"])
def test_readme_colab_links_point_at_the_notebooks(readme):
  """Colab links in the READMEs are `jaxgan.runtime.colab_url` of notebooks that exist."""
  links = re.findall(r"https://colab\.research\.google\.com/github/[^\s)\]>]+", (ROOT / readme).read_text())
  for link in links:
    name = link.rsplit("/", 1)[-1].removesuffix(".ipynb")
    assert name in NAMES and link == runtime.colab_url(name), f"{readme} links to {link}"
  if readme.startswith("notebooks"):
    assert {link.rsplit("/", 1)[-1] for link in links} == {f"{name}.ipynb" for name in NAMES}


@pytest.mark.parametrize("name", NAMES)
def test_notebook_layout(name):
  notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
  nbformat.validate(notebook)
  first = notebook.cells[0]
  assert first.cell_type == "markdown" and first.source.startswith("# ")
  badge = "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
  assert f"{badge}({runtime.colab_url(name)})" in first.source
  code = _code_cells(notebook)
  assert "pip" in code[0].source and 'find_spec("jaxgan")' in code[0].source
  assert f'REPO_URL = "{runtime.REPO_URL}"' in code[0].source, "the install cell's REPO_URL is jaxgan.runtime's"
  assert code[1].metadata.get("tags") == ["parameters"]
  assert set(SMALL[name]) <= {line.split("=")[0].strip() for line in code[1].source.splitlines() if "=" in line}


# ------------------------------------------------------------------------------------------------ running them


def test_quickstart_runs(tmp_path, compilation_cache):
  notebook, figures = run_notebook("quickstart", SMALL["quickstart"], _figures_dir(tmp_path), compilation_cache)
  assert len(figures) == FIGURES["quickstart"]
  assert "modes_covered" in _text(notebook)


def test_gan_zoo_toy_runs(tmp_path, compilation_cache):
  parameters = {**SMALL["gan_zoo_toy"], "WORKDIR": str(tmp_path / "runs")}
  notebook, figures = run_notebook("gan_zoo_toy", parameters, _figures_dir(tmp_path), compilation_cache)
  assert len(figures) == FIGURES["gan_zoo_toy"]
  table = _text(notebook)
  for config in ("gan_toy", "wgan_toy", "wgan_gp_toy", "rsgan_toy", "t_sgan_toy", "t_wgan_toy", "deligan_toy"):
    assert f"| `{config}` |" in table
    assert (tmp_path / "runs" / config / "results.json").exists()


def test_tpu_pmap_runs_on_fake_devices(tmp_path, compilation_cache):
  parameters = {**SMALL["tpu_pmap"], "WORKDIR": str(tmp_path / "runs")}
  notebook, figures = run_notebook("tpu_pmap", parameters, _figures_dir(tmp_path), compilation_cache)
  assert len(figures) == FIGURES["tpu_pmap"]
  text = _text(notebook)
  assert "4 devices (4 local)" in text and "parallel=shard_map on 4 device(s)" in text
  results = json.loads((tmp_path / "runs" / "auto" / "results.json").read_text())
  assert results["parallel"] == "shard_map" and results["num_devices"] == 4


@pytest.mark.slow
def test_mnist_wgan_gp_runs(tmp_path, tfds_data_dir, mnist_manual_dir, compilation_cache):
  parameters = {
    **SMALL["mnist_wgan_gp"],
    "WORKDIR": str(tmp_path / "runs"),
    "DATA_DIR": os.path.dirname(mnist_manual_dir),
    "TFDS_DATA_DIR": tfds_data_dir,
  }
  notebook, figures = run_notebook("mnist_wgan_gp", parameters, _figures_dir(tmp_path), compilation_cache)
  assert len(figures) == FIGURES["mnist_wgan_gp"]
  evaluation = json.loads((tmp_path / "runs" / "wgan_gp" / "eval.json").read_text())
  assert evaluation["step"] == 4 and evaluation["num_samples"] == 256 and evaluation["features"] == "mnist"
  assert "| fid |" in _text(notebook)


@pytest.mark.slow
def test_deligan_lowdata_runs(tmp_path, tfds_data_dir, mnist_manual_dir, compilation_cache):
  parameters = {
    **SMALL["deligan_lowdata"],
    "WORKDIR": str(tmp_path / "runs"),
    "DATA_DIR": os.path.dirname(mnist_manual_dir),
    "TFDS_DATA_DIR": tfds_data_dir,
  }
  notebook, figures = run_notebook("deligan_lowdata", parameters, _figures_dir(tmp_path), compilation_cache)
  assert len(figures) == FIGURES["deligan_lowdata"]
  for model in ("baseline", "DeLiGAN"):
    evaluation = json.loads((tmp_path / "runs" / model / "eval.json").read_text())
    assert evaluation["modified_inception_score_per_class"] >= 1.0
  assert "200 training images" in _text(notebook)
