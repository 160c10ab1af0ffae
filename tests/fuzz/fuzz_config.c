/*
 * fuzz_config: the YAML configuration loader, ${VAR} expansion included.
 *
 * The input is the file's text, loaded with config_load_string() (the same
 * code path as a file, without the disk). A few environment variables are
 * set so that ${VAR} and ${VAR:-default} have something to expand, one of
 * them to a value that is itself YAML-hostile. Properties: a failed load
 * says why in "PATH:..." form; a loaded configuration prints (lagwatch
 * check) and frees cleanly, and never prints the InfluxDB password.
 */
#include "config.h"
#include "tests/fuzz/fuzz_common.h"

#define SECRET "fuzz-secret-9f3b"

static FILE *devnull;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_quiet_logs();
    /* names the seeds and the dictionary use */
    setenv("LAGWATCH_FUZZ_HOST", "tm-1.example.com", 1);
    setenv("LAGWATCH_FUZZ_PORT", "9249", 1);
    setenv("LAGWATCH_FUZZ_EMPTY", "", 1);
    setenv("LAGWATCH_FUZZ_YAML", "a: [b, {c: \"${LAGWATCH_FUZZ_HOST}\"}]\n- ",
           1);
    setenv("LAGWATCH_TEST_PW", SECRET, 1);
    unsetenv("LAGWATCH_FUZZ_UNSET");
    devnull = fopen("/dev/null", "w");
    FUZZ_CHECK(devnull != NULL, "cannot open /dev/null");
    return 0;
}

static FILE *capture(char **text, size_t *len)
{
    FILE *f = open_memstream(text, len);
    FUZZ_CHECK(f != NULL, "open_memstream");
    return f;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > CONFIG_MAX_FILE_BYTES + 1)
        return 0;
    char err[512];
    err[0] = '\0';
    struct config *cfg = config_load_string("fuzz.yml", (const char *)data,
                                            size, err, sizeof(err));
    if (!cfg) {
        FUZZ_CHECK(strncmp(err, "fuzz.yml", 8) == 0,
                   "error does not name the file: '%s'", err);
        return 0;
    }
    char *text = NULL;
    size_t len = 0;
    FILE *f = capture(&text, &len);
    config_print(cfg, f);
    FUZZ_CHECK(fclose(f) == 0, "fclose");
    /* The secret must not show, unless the input itself put ${VAR} of it
     * into a field that is not a secret (a host name, say): then printing
     * it is printing what the user wrote there. */
    if (cfg->influx.password && strstr(cfg->influx.password, SECRET) &&
        !memmem(data, size, "${LAGWATCH_TEST_PW", 18))
        FUZZ_CHECK(memmem(text, len, SECRET, strlen(SECRET)) == NULL,
                   "config_print printed the password");
    free(text);
    config_free(&cfg);
    FUZZ_CHECK(cfg == NULL, "config_free left the pointer");
    config_free(&cfg);
    return 0;
}
