/*
 * test_normalize.c -- the Unicode stage (normalize.c) on real obfuscation
 * tricks: invisible characters inside words, bidi overrides, styled letters
 * (small capitals, full-width, mathematical bold, negative squared,
 * strike-through), Cyrillic/Greek/Cherokee confusables inside Latin words,
 * and what must survive untouched: Russian text, emoji ZWJ and tag
 * sequences, combining accents, Indic and Persian joiners.  Every case
 * checks the exact normalized bytes and the counts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sg_internal.h"

static sg_normctx *nc;

static int setup(void **state) {
    return sg__normctx_new(&nc) == SG_OK ? 0 : -1;
}

static int teardown(void **state) {
    sg__normctx_free(nc);
    nc = NULL;
    return 0;
}

/* Normalize s; the test fails unless it succeeds. */
static sg_norm norm(const char *s) {
    sg_norm n;
    assert_int_equal(sg__normalize(nc, s, strlen(s), &n), SG_OK);
    assert_non_null(n.text);
    assert_int_equal(strlen(n.text), n.len);
    return n;
}

static void zero_width_space_inside_a_word_is_removed_and_counted(void **state) {
    sg_norm n = norm("Fr\u200Bee ca\u200Bsh");
    assert_string_equal(n.text, "free cash");
    assert_int_equal(n.invisibles, 2);
    assert_int_equal(n.codepoints, 11);
    assert_int_equal(n.letters, 8);
    assert_int_equal(n.uppercase, 1);
    assert_int_equal(n.scripts, SG_SCRIPT_LATIN);
    sg__norm_free(&n);
}

static void soft_hyphen_word_joiner_and_bom_are_removed(void **state) {
    sg_norm n = norm("\uFEFFver\u00ADify your acc\u2060ount");
    assert_string_equal(n.text, "verify your account");
    assert_int_equal(n.invisibles, 3);
    sg__norm_free(&n);
}

static void bidi_override_is_removed(void **state) {
    /* The right-to-left override trick that shows "invoice_exe.pdf". */
    sg_norm n = norm("invoice_\u202Efdp.exe\u202C and \u2066x\u2069");
    assert_string_equal(n.text, "invoice_fdp.exe and x");
    assert_int_equal(n.invisibles, 4);
    sg__norm_free(&n);
}

static void control_characters_and_hangul_filler_are_invisible(void **state) {
    sg_norm n = norm("a\x07" "b\x1b" "c\tok");
    assert_string_equal(n.text, "abc\tok");
    assert_int_equal(n.invisibles, 2);
    sg__norm_free(&n);
    n = norm("\u3164\u3164 hi");
    assert_string_equal(n.text, " hi");
    assert_int_equal(n.invisibles, 2);
    sg__norm_free(&n);
}

static void small_capitals_fold_to_plain_letters(void **state) {
    sg_norm n = norm("ᴄʟᴀɪᴍ ʏᴏᴜʀ ᴘʀɪᴢᴇ");
    assert_string_equal(n.text, "claim your prize");
    assert_int_equal(n.folded, 14);
    assert_int_equal(n.letters, 14);
    assert_int_equal(n.uppercase, 0);
    assert_int_equal(n.scripts, SG_SCRIPT_LATIN);
    sg__norm_free(&n);
}

static void full_width_letters_fold(void **state) {
    sg_norm n = norm("ＦＲＥＥ ｉＰｈｏｎｅ");
    assert_string_equal(n.text, "free iphone");
    assert_int_equal(n.folded, 10);
    assert_int_equal(n.uppercase, 5);
    sg__norm_free(&n);
}

static void mathematical_bold_letters_fold(void **state) {
    sg_norm n = norm("\U0001D41F\U0001D42B\U0001D41E\U0001D41E"); /* 𝐟𝐫𝐞𝐞 */
    assert_string_equal(n.text, "free");
    assert_int_equal(n.folded, 4);
    assert_int_equal(n.codepoints, 4);
    assert_int_equal(n.scripts, SG_SCRIPT_LATIN);
    sg__norm_free(&n);
}

static void negative_squared_and_circled_letters_fold(void **state) {
    sg_norm n = norm("🅵🆁🅴🅴 ⓒⓐⓢⓗ");
    assert_string_equal(n.text, "free cash");
    assert_int_equal(n.folded, 8);
    sg__norm_free(&n);
}

static void strike_through_and_zalgo_marks_are_dropped(void **state) {
    sg_norm n = norm("f\u0336r\u0336e\u0336e\u0336");
    assert_string_equal(n.text, "free");
    assert_int_equal(n.folded, 4);
    sg__norm_free(&n);
    /* z + four stacked accents: two stay (and compose), two go. */
    n = norm("z\u0301\u0301\u0301\u0301");
    assert_string_equal(n.text, "\u017A\u0301");
    assert_int_equal(n.folded, 2);
    sg__norm_free(&n);
}

static void superscript_ordinals_are_orthography_not_styling(void **state) {
    sg_norm n = norm("1º piso, nº 5");
    assert_string_equal(n.text, "1o piso, no 5");
    assert_int_equal(n.folded, 0);
    sg__norm_free(&n);
}

static void cyrillic_letters_inside_a_latin_word_are_latinized(void **state) {
    sg_norm n = norm("Get fr\u0435\u0435 m\u043Eney"); /* е е о Cyrillic */
    assert_string_equal(n.text, "get free money");
    assert_int_equal(n.mixed_script_words, 2);
    assert_int_equal(n.scripts, SG_SCRIPT_LATIN | SG_SCRIPT_CYRILLIC);
    sg__norm_free(&n);
    n = norm("\u0410pple ID"); /* Cyrillic capital А */
    assert_string_equal(n.text, "apple id");
    assert_int_equal(n.mixed_script_words, 1);
    assert_int_equal(n.uppercase, 3);
    sg__norm_free(&n);
}

static void mostly_cyrillic_brand_with_one_latin_letter_is_latinized(void **state) {
    sg_norm n = norm("\u0440\u0430\u0443\u0440\u0430l login"); /* раура + l */
    assert_string_equal(n.text, "paypal login");
    assert_int_equal(n.mixed_script_words, 1);
    sg__norm_free(&n);
}

static void greek_and_cherokee_confusables_are_latinized(void **state) {
    sg_norm n = norm("p\u03B1yp\u03B1l \u13AApple"); /* Greek α, Cherokee Ꭺ */
    assert_string_equal(n.text, "paypal apple");
    assert_int_equal(n.mixed_script_words, 2);
    sg__norm_free(&n);
}

static void russian_word_with_latin_o_is_cyrillized(void **state) {
    /* "Заработок" written with a Latin o: the word stays Russian. */
    sg_norm n = norm("\u0417\u0430\u0440\u0430\u0431o\u0442o\u043A от 5000 рублей");
    assert_string_equal(n.text, "\u0437\u0430\u0440\u0430\u0431\u043E\u0442\u043E\u043A"
                                " от 5000 рублей");
    assert_int_equal(n.mixed_script_words, 1);
    assert_int_equal(n.digits, 4);
    sg__norm_free(&n);
}

static void mixed_word_without_look_alikes_is_counted_but_kept(void **state) {
    sg_norm n = norm("iPhoneы");
    assert_string_equal(n.text, "iphoneы");
    assert_int_equal(n.mixed_script_words, 1);
    sg__norm_free(&n);
}

static void all_russian_text_is_only_case_folded(void **state) {
    sg_norm n = norm("Привет! Встречаемся завтра в 10, Ёлка у метро.");
    assert_string_equal(n.text, "привет! встречаемся завтра в 10, ёлка у метро.");
    assert_int_equal(n.mixed_script_words, 0);
    assert_int_equal(n.scripts, SG_SCRIPT_CYRILLIC);
    assert_int_equal(n.uppercase, 3);
    assert_int_equal(n.digits, 2);
    assert_int_equal(n.folded, 0);
    assert_int_equal(n.invisibles, 0);
    sg__norm_free(&n);
}

static void emoji_zwj_sequences_and_presentation_selectors_stay(void **state) {
    const char *family = "\U0001F468\u200D\U0001F469\u200D\U0001F467"; /* 👨‍👩‍👧 */
    const char *coder = "\U0001F469\U0001F3FD\u200D\U0001F4BB";        /* 👩🏽‍💻 */
    char in[128], want[128];
    snprintf(in, sizeof in, "%s Hi %s \u2764\uFE0F 1\uFE0F\u20E3", family, coder);
    snprintf(want, sizeof want, "%s hi %s \u2764\uFE0F 1\uFE0F\u20E3", family, coder);
    sg_norm n = norm(in);
    assert_string_equal(n.text, want);
    assert_int_equal(n.invisibles, 0);
    sg__norm_free(&n);
}

static void zwj_and_selector_outside_emoji_are_invisible(void **state) {
    sg_norm n = norm("fr\u200Dee a\uFE0F \U0001F600\u200D");
    assert_string_equal(n.text, "free a \U0001F600");
    assert_int_equal(n.invisibles, 3);
    sg__norm_free(&n);
}

static void flag_tag_sequence_stays_but_smuggled_tags_go(void **state) {
    const char *scotland =
        "\U0001F3F4\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F";
    char in[128];
    snprintf(in, sizeof in, "%s ok\U000E0069\U000E0067\U000E006E", scotland);
    sg_norm n = norm(in);
    char want[128];
    snprintf(want, sizeof want, "%s ok", scotland);
    assert_string_equal(n.text, want);
    assert_int_equal(n.invisibles, 3);
    sg__norm_free(&n);
}

static void combining_acute_composes_to_precomposed_letter(void **state) {
    sg_norm n = norm("Cafe\u0301 cre\u0300me");
    assert_string_equal(n.text, "caf\u00E9 cr\u00E8me");
    assert_int_equal(n.codepoints, 12);
    assert_int_equal(n.letters, 9);
    assert_int_equal(n.folded, 0);
    sg__norm_free(&n);
}

static void devanagari_and_thai_vowel_signs_stay(void **state) {
    sg_norm n = norm("नमस्ते สวัสดีครับ");
    assert_string_equal(n.text, "नमस्ते สวัสดีครับ");
    assert_int_equal(n.scripts, SG_SCRIPT_DEVANAGARI | SG_SCRIPT_THAI);
    assert_int_equal(n.folded, 0);
    assert_int_equal(n.invisibles, 0);
    sg__norm_free(&n);
}

static void orthographic_joiners_are_removed_but_not_counted(void **state) {
    /* Persian ZWNJ in "می‌خواهم", Devanagari ZWJ after a virama. */
    sg_norm n = norm("\u0645\u06CC\u200C\u062E\u0648\u0627\u0647\u0645 \u0915\u094D\u200D\u0937");
    assert_string_equal(n.text, "\u0645\u06CC\u062E\u0648\u0627\u0647\u0645 \u0915\u094D\u0937");
    assert_int_equal(n.invisibles, 0);
    assert_int_equal(n.scripts, SG_SCRIPT_ARABIC | SG_SCRIPT_DEVANAGARI);
    sg__norm_free(&n);
}

static void ascii_counts_and_case_fold(void **state) {
    sg_norm n = norm("WIN 900 Pounds NOW!");
    assert_string_equal(n.text, "win 900 pounds now!");
    assert_int_equal(n.codepoints, 19);
    assert_int_equal(n.letters, 12);
    assert_int_equal(n.uppercase, 7);
    assert_int_equal(n.digits, 3);
    assert_int_equal(n.scripts, SG_SCRIPT_LATIN);
    sg__norm_free(&n);
}

static void pound_sign_text_takes_the_unicode_path(void **state) {
    sg_norm n = norm("WIN \u00A3900\u00A0NOW");
    assert_string_equal(n.text, "win \u00A3900 now");
    assert_int_equal(n.codepoints, 12);
    assert_int_equal(n.letters, 6);
    assert_int_equal(n.uppercase, 6);
    assert_int_equal(n.digits, 3);
    sg__norm_free(&n);
}

static void empty_text_is_empty(void **state) {
    sg_norm n = norm("");
    assert_string_equal(n.text, "");
    assert_int_equal(n.len, 0);
    assert_int_equal(n.codepoints, 0);
    assert_int_equal(n.scripts, 0);
    sg__norm_free(&n);
    sg__norm_free(&n); /* freeing twice is harmless: fields were zeroed */
}

static void invalid_utf8_is_rejected_and_leaves_nothing(void **state) {
    static const struct { const char *s; size_t len; } bad[] = {
        {"\xC0\xAF", 2},             /* overlong '/' */
        {"ok \xE0\x80\xAF", 6},      /* overlong 3-byte */
        {"\xED\xA0\x80", 3},         /* lone surrogate U+D800 */
        {"abc\xE2\x82", 5},          /* truncated */
        {"\xF4\x90\x80\x80", 4},     /* above U+10FFFF */
        {"a\0b", 3},                 /* NUL byte */
        {"\x80", 1},                 /* stray continuation byte */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sg_norm n;
        memset(&n, 0xAB, sizeof n);
        assert_int_equal(sg__normalize(nc, bad[i].s, bad[i].len, &n), SG_EUTF8);
        assert_null(n.text);
        assert_int_equal(n.codepoints, 0);
    }
}

static void skeletons_follow_uts39(void **state) {
    char *s = NULL;
    assert_int_equal(sg__skeleton(nc, "microsoft", 9, &s), SG_OK);
    assert_string_equal(s, "rnicrosoft");
    sg__free(s);
    const char *paypal = "\u0440\u0430\u0443\u0440\u0430l"; /* раураl */
    assert_int_equal(sg__skeleton(nc, paypal, strlen(paypal), &s), SG_OK);
    assert_string_equal(s, "paypal");
    sg__free(s);
    assert_int_equal(sg__skeleton(nc, "\xED\xA0\x80", 3, &s), SG_EUTF8);
    assert_null(s);
}

static void norm_skeleton_is_filled_once(void **state) {
    sg_norm n = norm("Micros\u043Eft");
    assert_null(n.skeleton);
    assert_int_equal(sg__norm_skeleton(nc, &n), SG_OK);
    assert_string_equal(n.skeleton, "rnicrosoft");
    assert_int_equal(n.skeleton_len, 10);
    const char *first = n.skeleton;
    assert_int_equal(sg__norm_skeleton(nc, &n), SG_OK);
    assert_ptr_equal(n.skeleton, first);
    sg__norm_free(&n);
}

/* 1 MiB of obfuscated spam: linear, exact counts, no blow-up. */
static void one_mebibyte_of_obfuscated_text(void **state) {
    const char *unit = "Fr\u200Bee \u1D18\u0280\u026A\u1D22\u1D07 fr\u0435\u0435! "; /* 26 bytes */
    size_t ul = strlen(unit), reps = (1u << 20) / ul;
    char *big = malloc(reps * ul + 1);
    for (size_t i = 0; i < reps; i++) memcpy(big + i * ul, unit, ul);
    big[reps * ul] = '\0';
    sg_norm n;
    assert_int_equal(sg__normalize(nc, big, reps * ul, &n), SG_OK);
    assert_int_equal(n.invisibles, reps);
    assert_int_equal(n.folded, 5 * reps);
    assert_int_equal(n.mixed_script_words, reps);
    assert_int_equal(n.len, reps * strlen("free prize free! "));
    assert_memory_equal(n.text, "free prize free! free prize", 27);
    free(big);
    sg__norm_free(&n);
    /* The context still works for a small message afterwards. */
    n = norm("\u0410pple");
    assert_string_equal(n.text, "apple");
    sg__norm_free(&n);
}

static void allocation_failure_is_clean(void **state) {
    const char *s = "Fr\u200Bee \u1D18\u0280\u026A\u1D22\u1D07 \U0001F468\u200D\U0001F469";
    int rc = SG_ENOMEM;
    for (long k = 0; rc == SG_ENOMEM && k < 50; k++) {
        sg_norm n;
        sg__alloc_fail_after(k);
        rc = sg__normalize(nc, s, strlen(s), &n);
        sg__alloc_fail_after(-1);
        if (rc == SG_ENOMEM) assert_null(n.text);
        else sg__norm_free(&n);
    }
    assert_int_equal(rc, SG_OK);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(zero_width_space_inside_a_word_is_removed_and_counted),
        cmocka_unit_test(soft_hyphen_word_joiner_and_bom_are_removed),
        cmocka_unit_test(bidi_override_is_removed),
        cmocka_unit_test(control_characters_and_hangul_filler_are_invisible),
        cmocka_unit_test(small_capitals_fold_to_plain_letters),
        cmocka_unit_test(full_width_letters_fold),
        cmocka_unit_test(mathematical_bold_letters_fold),
        cmocka_unit_test(negative_squared_and_circled_letters_fold),
        cmocka_unit_test(strike_through_and_zalgo_marks_are_dropped),
        cmocka_unit_test(superscript_ordinals_are_orthography_not_styling),
        cmocka_unit_test(cyrillic_letters_inside_a_latin_word_are_latinized),
        cmocka_unit_test(mostly_cyrillic_brand_with_one_latin_letter_is_latinized),
        cmocka_unit_test(greek_and_cherokee_confusables_are_latinized),
        cmocka_unit_test(russian_word_with_latin_o_is_cyrillized),
        cmocka_unit_test(mixed_word_without_look_alikes_is_counted_but_kept),
        cmocka_unit_test(all_russian_text_is_only_case_folded),
        cmocka_unit_test(emoji_zwj_sequences_and_presentation_selectors_stay),
        cmocka_unit_test(zwj_and_selector_outside_emoji_are_invisible),
        cmocka_unit_test(flag_tag_sequence_stays_but_smuggled_tags_go),
        cmocka_unit_test(combining_acute_composes_to_precomposed_letter),
        cmocka_unit_test(devanagari_and_thai_vowel_signs_stay),
        cmocka_unit_test(orthographic_joiners_are_removed_but_not_counted),
        cmocka_unit_test(ascii_counts_and_case_fold),
        cmocka_unit_test(pound_sign_text_takes_the_unicode_path),
        cmocka_unit_test(empty_text_is_empty),
        cmocka_unit_test(invalid_utf8_is_rejected_and_leaves_nothing),
        cmocka_unit_test(skeletons_follow_uts39),
        cmocka_unit_test(norm_skeleton_is_filled_once),
        cmocka_unit_test(one_mebibyte_of_obfuscated_text),
        cmocka_unit_test(allocation_failure_is_clean),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
