"""Small adapters around AWS services. Everything that talks to boto3 lives here."""
