/*
 * i18n.h - marking human-facing text for translation (gettext).
 *
 * _("text") is a message shown to people (finding messages, check's text
 * output, pages, chat alerts); N_("text") marks a string translated later,
 * where it is used. Rule ids, JSON keys, log lines and the standard
 * webhook's field names are never marked.
 */
#ifndef EXPENSED_I18N_H
#define EXPENSED_I18N_H

#define _(s) (s)
#define N_(s) (s)

#endif
