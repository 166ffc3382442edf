# Two commands (see README):  make lab  |  make test
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# Jupyter refuses to start as root (a container, a cloud VM) unless told that it is on purpose.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)
# Exact, tested versions of everything (torch and torchvision included) live in constraints.txt.
CONSTRAINTS := constraints.txt
# Without an NVIDIA GPU, torch comes from PyTorch's CPU wheel index (under 1 GB instead of about 6 GB).
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu
HAS_GPU := $(shell command -v nvidia-smi >/dev/null 2>&1 && echo yes)

.PHONY: lab test setup unit notebooks lint figures slides benchmark badges experiments constraints gpu-dry-run gpu-dry-run-subset test-gpu gpu-wheels site

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: $(BIN)/activate pyproject.toml $(CONSTRAINTS)
	@if [ -z "$(HAS_GPU)" ] && $(BIN)/python scripts/reachable.py $(TORCH_CPU_INDEX)/torch/; then \
		echo "setup: no NVIDIA GPU, so torch comes from PyTorch's CPU wheel index"; \
		$(BIN)/pip install -q -c $(CONSTRAINTS) --index-url $(TORCH_CPU_INDEX) torch torchvision; \
	elif [ -z "$(HAS_GPU)" ]; then \
		echo "setup: $(TORCH_CPU_INDEX) cannot be reached; torch comes from the default index (a larger build)"; \
	fi
	$(BIN)/pip install -q -c $(CONSTRAINTS) -e ".[lab,test]"
	touch $@

setup: $(VENV)/.installed

## Opens the course in JupyterLab.
lab: setup
	$(BIN)/jupyter lab notebooks/ $(ROOT_FLAG)

## Runs everything CI runs: ruff, unit tests, nbval over every notebook.
test: setup lint unit notebooks

lint:
	$(BIN)/ruff check .

# unit tests and notebooks alike fail when they change any file in the repository
unit:
	scripts/unchanged.sh $(BIN)/python -m pytest -n 2 tests

# figures go to a scratch folder: running the tests leaves figures/ as it was
notebooks:
	CNNEDU_FIGURES=$$(mktemp -d) OMP_NUM_THREADS=1 scripts/unchanged.sh $(BIN)/python -m pytest -n 2 --dist loadscope \
		--nbval-lax --nbval-sanitize-with tests/sanitize.cfg notebooks

## The GPU path on any CPU: GPU-sized data, models and batches, the CUDA recipe (bf16, channels-last), at most
## 5 optimizer steps per training run; every cell must run (outputs are not compared: see the sanitize file).
## DRY_RUN_PRECISION=fp16 rehearses the recipe of GPUs without bf16 (Colab's T4): fp16 autocast and a GradScaler.
DRY_RUN_NOTEBOOKS ?= notebooks
DRY_RUN_PRECISION ?= bf16
gpu-dry-run: setup
	CNNEDU_BUDGET=gpu CNNEDU_MAX_STEPS=5 CNNEDU_PRECISION=$(DRY_RUN_PRECISION) CNNEDU_CHANNELS_LAST=1 CNNEDU_FIGURES=$$(mktemp -d) \
		OMP_NUM_THREADS=1 scripts/unchanged.sh $(BIN)/python -m pytest -n 2 --dist loadscope \
		--nbval-lax --nbval-sanitize-with tests/sanitize_dry_run.cfg $(DRY_RUN_NOTEBOOKS)

## CI runs this subset: together these notebooks call every experiment helper (fit, evaluate, compare, claim,
## the resolution sweep) on both generated datasets (tests/test_notebooks_meta.py checks it).
DRY_RUN_SUBSET := notebooks/01_alexnet.ipynb notebooks/02_zfnet.ipynb notebooks/13_mobilenet_v3.ipynb \
	notebooks/15_landscape.ipynb
gpu-dry-run-subset:
	$(MAKE) gpu-dry-run DRY_RUN_NOTEBOOKS="$(DRY_RUN_SUBSET)"

## The Jupyter and test packages a bare GPU machine (Python 3.12, torch preinstalled) lacks, as wheels to carry
## there for scripts/gpu_session.sh; numpy, scipy, matplotlib, pillow and scikit-image are left to the machine.
GPU_WHEELS_PY ?= 3.12
GPU_WHEELS := nbval ipykernel nbclient nbformat torchinfo ipywidgets tqdm pytest
gpu-wheels: setup
	rm -rf .gpu-wheels && mkdir -p .gpu-wheels
	$(BIN)/pip download -q -d .gpu-wheels --only-binary=:all: --python-version $(GPU_WHEELS_PY) \
		--platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 \
		--platform any $(GPU_WHEELS)
	cd .gpu-wheels && rm -f numpy-* scipy-* matplotlib-* pillow-* scikit_image-* && \
		printf '%s\n' $(GPU_WHEELS) > requirements.txt && du -sh .

## On a machine with CUDA: every notebook under nbval with the GPU budgets, then the claims with the GPU budgets.
test-gpu: setup
	@$(BIN)/python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'test-gpu: no CUDA device')"
	CNNEDU_FIGURES=$$(mktemp -d) scripts/unchanged.sh $(BIN)/python -m pytest -p no:xdist \
		--nbval-lax --nbval-sanitize-with tests/sanitize.cfg notebooks
	$(BIN)/python scripts/run_experiments.py --budget gpu --json benchmarks/claims_gpu.json

figures: setup
	$(BIN)/python scripts/make_figures.py

## Builds the course website from the notebooks' stored outputs (nothing runs) into site/_build/html.
site: setup
	$(BIN)/python scripts/build_site.py

slides: setup
	$(BIN)/python scripts/make_slides.py

benchmark: setup
	$(BIN)/python benchmarks/run.py

badges: setup
	$(BIN)/python scripts/badges.py

## Runs every notebook that records a claim with its own seeds and with OTHER_SEEDS; writes benchmarks/EXPERIMENTS.md.
OTHER_SEEDS ?= 7,8,9
experiments: setup
	$(BIN)/python scripts/run_experiments.py --json benchmarks/claims_default.json
	$(BIN)/python scripts/run_experiments.py --seeds $(OTHER_SEEDS) --json benchmarks/claims_other.json
	$(BIN)/python scripts/run_experiments.py --report benchmarks/EXPERIMENTS.md \
		benchmarks/claims_default.json benchmarks/claims_other.json $(wildcard benchmarks/claims_gpu.json)

## Rewrites constraints.txt from the current .venv (after an upgrade that passes make test).
constraints: setup
	(head -n 2 $(CONSTRAINTS); $(BIN)/pip freeze --exclude-editable) > $(CONSTRAINTS).new && mv $(CONSTRAINTS).new $(CONSTRAINTS)
