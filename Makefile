# actrec — `make help` lists the targets.
SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python
BIN   := $(VENV)/bin
export YOLO_OFFLINE := True

.DEFAULT_GOAL := help

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed ## create .venv and install actrec (torch 2.14.1, torchvision 0.29.1)

demo: install ## synth data → extract → train → evaluate → predict, offline (~7 min)
	$(BIN)/actrec synth out=data/synth clips_per_class=60
	$(BIN)/actrec train configs/synth.yaml name=demo exist_ok=true
	$(BIN)/actrec evaluate runs/demo/model.pt data=runs/demo/test_list.txt
	$(BIN)/actrec predict runs/demo/model.pt $$(head -n 1 runs/demo/test_list.txt | cut -d' ' -f1) \
		out=runs/demo/predicted.mp4 json=runs/demo/predicted.json
	@$(PY) -c "import json; m=json.load(open('runs/demo/metrics.json')); \
	print(f\"\nheld-out synthetic accuracy: {m['test/acc']:.3f} (mean class {m['test/mean_class_acc']:.3f}, \
	{m['clips']['test']} clips of unseen performers, untrained backbone: {not m['pretrained']})\"); \
	print('outputs: runs/demo/ (model.pt, metrics.json, confusion_matrix.png, curves.png, predicted.mp4, predicted.json)')"

builtin-model: install ## retrain the built-in model on synthetic skeletons (src/actrec/synthetic/builtin.pt, ~8 min), export it to ONNX, measure it on the real clips
	$(PY) -m actrec.synthetic.builtin
	$(BIN)/actrec export builtin
	$(PY) bench/new_actions.py

test: install ## run the test suite (fast; slow end-to-end tests: make test-all)
	$(BIN)/pytest -q

test-all: install ## run every test, slow ones included
	$(BIN)/pytest -q -m ''

bench: install ## speed benchmarks A-J and predict over a folder (offline, CPU, ~25 min; A-C over 3 rounds, medians; G-J: the person stream, I-J per runtime): prints tables, writes data/bench/*.json
	$(PY) bench/speed.py
	$(PY) bench/people_speed.py
	$(PY) bench/runtime_speed.py
	$(PY) bench/folder.py

soak: install ## live for MINUTES (default 30) on a looped file: RSS slope, FPS and latency first vs last 5 min (MODEL=builtin RUNTIME=torch; ALERTS=1: to a flaky receiver)
	$(PY) bench/live_soak.py --minutes $(or $(MINUTES),30) --model $(or $(MODEL),builtin) --runtime $(or $(RUNTIME),torch) $(if $(ALERTS),--alerts)

bench-reps: install ## repetition counts on the counted wild_dev clips, beside Ultralytics' AIGym, and predict's cost of counting (~30 min, needs ../shared/data)
	$(PY) bench/reps.py --timing 3

lint: install ## ruff lint and format check
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

format: install ## ruff format
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

clean: ## remove generated data, caches and runs (keeps .venv)
	rm -rf data/synth data/cache runs

.PHONY: help install demo builtin-model test test-all bench soak lint format clean
