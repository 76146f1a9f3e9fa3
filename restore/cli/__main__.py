from restore.cli import main

main(prog_name="restore")
