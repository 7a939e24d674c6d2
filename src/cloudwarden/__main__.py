from cloudwarden.cli.app import main

main()
