from bench import decide

decide.run()
