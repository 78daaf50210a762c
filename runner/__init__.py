"""Running the platform on one machine: `make run`, the e2e tests, `make bench` and `make chaos`.

The process list (processes), the supervisor that keeps it running (supervisor), a whole throwaway
platform for tests and benchmarks (launcher), the local Pub/Sub emulator (emulator), and
`manage.py run_platform`. A Django app for that command only: it has no models. Production runs
none of this; a container runtime or systemd does its job there (docker/).
"""
