from kzprobe.cli import main

main()
