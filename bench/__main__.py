from bench import decide, registration

decide.run()
registration.run()
