from processor.cli import app

app(prog_name="srguard")
