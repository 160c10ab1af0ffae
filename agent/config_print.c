/*
 * config_print: a loaded configuration as YAML (`lagwatch check -c FILE`,
 * lagwatch(8), COMMANDS), from the key table, so that every key the loader
 * accepts is shown with its effective value. Secrets are shown as "(set)".
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_int.h"

/* Strings that YAML would read as something else get double quotes. */
static void print_str(FILE *out, const char *s)
{
    bool plain = *s && !strchr("-?:,[]{}#&*!|>'\"%@`~ ", s[0]) &&
                 strcmp(s, "true") && strcmp(s, "false") && strcmp(s, "null");
    for (const char *p = s; plain && *p; p++)
        if (strchr("#\"'\\{}[],;", *p) || (*p == ':' && p[1] == ' ') ||
            (unsigned char)*p < ' ' || *p == '$' || *p == '*')
            plain = false;
    if (plain && s[strlen(s) - 1] != ' ' && s[strlen(s) - 1] != ':') {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (const char *p = s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if ((unsigned char)*p < ' ')
            fprintf(out, "\\x%02x", (unsigned char)*p);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

/* librdkafka properties may carry SASL or TLS secrets. */
static bool secret_key(const char *k)
{
    return strstr(k, "password") || strstr(k, "secret") ||
           strstr(k, "key.pem") || strstr(k, "sasl.jaas");
}

static void print_entry(const char *prefix, const void *base, FILE *out,
                        int indent);

static void print_fields(const char *prefix, const void *base, FILE *out,
                         int indent)
{
    char elem_path[CONFIG_MAX_PATH_LEN], tmp[32];
    size_t n_fields;
    const struct cfg_field *fields = config_fields(&n_fields);
    for (size_t i = 0; i < n_fields; i++) {
        const struct cfg_field *f = &fields[i];
        const char *key = leaf(f->path);
        if (!is_child(f->path, prefix))
            continue;
        switch (f->type) {
        case T_MAP: {
            const struct section *sec = f->aux;
            if (sec && sec->shown && !sec->shown(base))
                break;
            fprintf(out, "%*s%s:\n", indent, "", key);
            print_fields(f->path, base, out, indent + 2);
            if (sec && sec->print_extra)
                sec->print_extra(base, out, indent + 2);
            break;
        }
        case T_LIST: {
            const struct list_desc *ld = f->aux;
            const void *arr = *(void *const *)cat(base, f->off);
            size_t n = *(const size_t *)cat(base, f->off_n);
            fprintf(out, "%*s%s:%s\n", indent, "", key, n ? "" : " []");
            snprintf(elem_path, sizeof(elem_path), "%s[]", f->path);
            for (size_t j = 0; j < n; j++)
                print_entry(elem_path, cat(arr, j * ld->elem_size), out,
                            indent + 2);
            break;
        }
        case T_STRLIST: {
            char *const *v = *(char *const *const *)cat(base, f->off);
            size_t n = *(const size_t *)cat(base, f->off_n);
            fprintf(out, "%*s%s: [", indent, "", key);
            for (size_t j = 0; j < n; j++) {
                fputs(j ? ", " : "", out);
                print_str(out, v[j]);
            }
            fputs("]\n", out);
            break;
        }
        case T_KV: {
            const struct cfg_kv *kv =
                *(struct cfg_kv *const *)cat(base, f->off);
            size_t n = *(const size_t *)cat(base, f->off_n);
            fprintf(out, "%*s%s:%s\n", indent, "", key, n ? "" : " {}");
            for (size_t j = 0; j < n; j++) {
                fprintf(out, "%*s", indent + 2, "");
                print_str(out, kv[j].key);
                fputs(": ", out);
                if (secret_key(kv[j].key))
                    fputs("(set)", out);
                else
                    print_str(out, kv[j].value);
                fputc('\n', out);
            }
            break;
        }
        case T_DURATION:
        case T_SIZE:
        case T_U64:
            config_fmt_value(f->type, *(const uint64_t *)cat(base, f->off), tmp,
                             sizeof(tmp));
            fprintf(out, "%*s%s: %s\n", indent, "", key, tmp);
            break;
        case T_UINT:
            fprintf(out, "%*s%s: %u\n", indent, "", key,
                    *(const unsigned *)cat(base, f->off));
            break;
        case T_BOOL:
            fprintf(out, "%*s%s: %s\n", indent, "", key,
                    *(const bool *)cat(base, f->off) ? "true" : "false");
            break;
        case T_RATIO:
            fprintf(out, "%*s%s: %g\n", indent, "", key,
                    *(const double *)cat(base, f->off));
            break;
        case T_ACTION:
            fprintf(out, "%*s%s: %s\n", indent, "", key,
                    relabel_action_name(
                        *(const enum relabel_action *)cat(base, f->off)));
            break;
        default: {
            const char *s = *(char *const *)cat(base, f->off);
            if (!s)
                break;
            fprintf(out, "%*s%s: ", indent, "", key);
            print_str(out, s);
            fputc('\n', out);
            break;
        }
        }
    }
}

/* One list entry in block style: "- " replaces the indentation of its
 * first line. */
static void print_entry(const char *prefix, const void *base, FILE *out,
                        int indent)
{
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (!mem) {
        fprintf(out, "%*s- (cannot format entry)\n", indent, "");
        return;
    }
    print_fields(prefix, base, mem, indent + 2);
    fclose(mem);
    if (len >= (size_t)indent + 2) {
        text[indent] = '-';
        text[indent + 1] = ' ';
    }
    fputs(text, out);
    free(text);
}

void config_print(const struct config *cfg, FILE *out)
{
    fprintf(out, "# %s\n", cfg->path);
    print_fields("", cfg, out, 0);
}
