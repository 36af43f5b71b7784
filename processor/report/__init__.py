"""The incidence statistics the SECMP0063 working group asked for, from rejection or audit records."""
