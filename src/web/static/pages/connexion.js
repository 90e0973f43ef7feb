// The sign-in page: nothing to load; the form posts without script.
document.getElementById('jeton')?.focus();
