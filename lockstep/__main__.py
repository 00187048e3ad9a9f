from lockstep.cli.main import run

run()
