# Two commands a newcomer needs: `make run` (a station on an embedded broker) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test lint mosquitto bench clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

run: $(VENV)/.installed  ## start a station on an embedded MQTT broker at 127.0.0.1:1883
	$(VENV)/bin/ocpp-station serve --data-dir station-data --no-csms

mosquitto:  ## the broker the tests run against (Debian's package)
	@command -v mosquitto >/dev/null || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq mosquitto >/dev/null; }

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check src tests bench

test: $(VENV)/.installed mosquitto lint  ## lint, then the whole suite against a real mosquitto
	$(PY) -m pytest -q

bench: $(VENV)/.installed mosquitto  ## floor vs service through a private mosquitto (bench/README.md)
	$(PY) -m bench

clean:
	rm -rf $(VENV) station-data .pytest_cache .ruff_cache
