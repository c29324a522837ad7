// msgpackr loads its native accelerator inside a try/catch and uses its own JavaScript code when
// loading fails; this stand-in always fails, so no native binary is needed (see package.json).
throw new Error('msgpackr-extract is not installed (stub); msgpackr uses its JavaScript decoder');
