"""The processor's view of the DSP's registration data and the party directory, kept in Redis."""
