# Server tests: one Check suite per source file, plus integration tests that
# start the real binary on an ephemeral port.
