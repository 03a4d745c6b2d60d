"""A stand-in for the Google Sheets v4 API and its OAuth token endpoint, driving the real gspread
and google-auth in tests."""
