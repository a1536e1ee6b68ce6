/*
 * page_table.c - the missions of the verdict page: one table row per
 * mission (its cells highlighted where findings point), the sum of the
 * costs, and each mission's members and expenses folded in <details>.
 */
#include <stdio.h>
#include <string.h>

#include "../rules/value.h"
#include "page_int.h"

int pg_costs_sum(const struct pg *p, int64_t *sum, size_t *unreadable)
{
	const json_t *ms = json_object_get(p->in->report, "missions");
	bool overflow = false;
	int64_t s = 0, c;

	*unreadable = 0;
	*sum = 0;
	if (!json_is_array(ms))
		return -1;
	for (size_t i = 0; i < json_array_size(ms); i++) {
		const json_t *m = json_array_get(ms, i);
		if (amount_from_json(json_object_get(m, "cost"), &c) == -1)
			(*unreadable)++;
		else if (__builtin_add_overflow(s, c, &s))
			overflow = true;
	}
	*sum = s;
	return *unreadable > 0 || overflow ? -1 : 0;
}

/* A heading cell of a column, named after its JSON member. */
static void th(struct pg *p, const char *attrs, const char *name)
{
	sb_adds(p->out, "<th");
	sb_adds(p->out, attrs);
	sb_addc(p->out, '>');
	sb_adds(p->out, pg_label(p, name));
	sb_adds(p->out, "</th>");
}

/* The cell of obj's member name (key base/name) shown as kind. */
static void field(struct pg *p, const char *base, const json_t *obj,
		  const char *name, enum pg_kind kind, const char *cls)
{
	char key[128];
	struct pg_cell c;

	pg_key(key, sizeof(key), base, name);
	c = pg_cell_open(p, "td", key, cls);
	pg_value(p, json_object_get(obj, name), kind);
	pg_cell_close(p, &c);
}

/* The first cell of a row: its number, the cell of the row itself. */
static void number_cell(struct pg *p, const char *key, size_t i)
{
	struct pg_cell c = pg_cell_open(p, "td", key, "no");

	sb_addu(p->out, i + 1);
	pg_cell_close(p, &c);
}

static void mission_row(struct pg *p, size_t i)
{
	const json_t *m = json_array_get(p->missions, i);
	const json_t *d = json_object_get(m, "delegation");
	static const char *const counts[] = {"councillors", "guests", "staff",
					     "size"};
	char key[64], dkey[96];

	pg_key_index(key, sizeof(key), "/missions", i);
	pg_key(dkey, sizeof(dkey), key, "delegation");
	sb_adds(p->out, "<tr>");
	number_cell(p, key, i);
	if (!json_is_object(m)) {
		sb_adds(p->out, "<td colspan=\"9\">");
		pg_value(p, m, PG_CONTAINER);
		sb_adds(p->out, "</td></tr>\n");
		return;
	}
	field(p, key, m, "id", PG_TEXT, "ref");
	field(p, key, m, "destination", PG_TEXT, NULL);
	field(p, key, m, "start", PG_DATE, "date");
	field(p, key, m, "end", PG_DATE, "date");
	for (size_t k = 0; k < 4; k++)
		field(p, dkey, d, counts[k], PG_INTEGER, "num");
	field(p, key, m, "cost", PG_AMOUNT, "num");
	sb_adds(p->out, "</tr>\n");
}

/* "Only the first N of M are shown." */
static void cut_note(struct pg *p, size_t shown, size_t all)
{
	if (shown >= all)
		return;
	pg_note(p);
	sb_addf(p->out,
		i18n_tr(p->lang, "Only the first %zu of %zu are shown."), shown,
		all);
	sb_adds(p->out, "</p>\n");
}

/* The role of a member: its word when it is one of the three. */
static void role_cell(struct pg *p, const char *base, const json_t *member)
{
	const json_t *role = json_object_get(member, "role");
	const char *s = json_string_value(role);
	char key[160];
	struct pg_cell c;

	pg_key(key, sizeof(key), base, "role");
	c = pg_cell_open(p, "td", key, NULL);
	if (s && strcmp(s, "councillor") == 0)
		sb_adds(p->out, pg_tr(p, N_("councillor")));
	else if (s && strcmp(s, "guest") == 0)
		sb_adds(p->out, pg_tr(p, N_("guest")));
	else if (s && strcmp(s, "staff") == 0)
		sb_adds(p->out, pg_tr(p, N_("staff member")));
	else
		pg_value(p, role, PG_TEXT);
	pg_cell_close(p, &c);
}

/* One list of a mission's <details>: members (which 0) or expenses. */
static void detail_list(struct pg *p, size_t i, int which)
{
	const struct pg_row *r = &p->row[i];
	char key[96], row[128];
	struct pg_cell c;

	pg_key_index(row, sizeof(row), "/missions", i);
	pg_key(key, sizeof(key), row,
	       which ? "expenses" : "delegation/members");
	c = pg_cell_open(p, "h3", key, NULL);
	sb_adds(p->out, pg_label(p, which ? "expenses" : "members"));
	pg_cell_close(p, &c);
	p->css |= PG_CSS_MISSIONS;
	sb_adds(p->out, "\n<table class=\"detail\"><thead><tr>");
	sb_adds(p->out, "<th>");
	sb_adds(p->out, pg_tr(p, N_("No.")));
	sb_adds(p->out, "</th>");
	if (which) {
		th(p, "", "date");
		th(p, "", "category");
		th(p, " class=\"num\"", "amount");
		th(p, "", "description");
	} else {
		th(p, "", "name");
		th(p, "", "role");
	}
	sb_adds(p->out, "</tr></thead><tbody>\n");
	for (size_t k = 0; k < r->shown[which]; k++) {
		const json_t *item = json_array_get(r->list[which], k);
		pg_key_index(row, sizeof(row), key, k);
		sb_adds(p->out, "<tr>");
		number_cell(p, row, k);
		if (!json_is_object(item)) {
			sb_adds(p->out, which ? "<td colspan=\"4\">"
					      : "<td colspan=\"2\">");
			pg_value(p, item, PG_CONTAINER);
			sb_adds(p->out, "</td></tr>\n");
			continue;
		}
		if (which) {
			field(p, row, item, "date", PG_DATE, "date");
			field(p, row, item, "category", PG_TEXT, NULL);
			field(p, row, item, "amount", PG_AMOUNT, "num");
			field(p, row, item, "description", PG_TEXT, NULL);
		} else {
			field(p, row, item, "name", PG_TEXT, NULL);
			role_cell(p, row, item);
		}
		sb_adds(p->out, "</tr>\n");
	}
	sb_adds(p->out, "</tbody></table>\n");
	cut_note(p, r->shown[which], r->all[which]);
}

/* Mission i's members and expenses, folded (open when a finding points
 * into them, so that it prints too). */
static void details(struct pg *p, size_t i)
{
	const json_t *m = json_array_get(p->missions, i);
	const struct pg_row *r = &p->row[i];
	size_t nm = r->all[0], ne = r->all[1];
	char row[64], k1[96], k2[96];

	if (r->shown[0] == 0 && r->shown[1] == 0)
		return;
	pg_key_index(row, sizeof(row), "/missions", i);
	pg_key(k1, sizeof(k1), row, "delegation/members");
	pg_key(k2, sizeof(k2), row, "expenses");
	p->css |= PG_CSS_ANNEX;
	sb_adds(p->out, pg_cells_under(p, k1) || pg_cells_under(p, k2)
			    ? "<details class=\"annex\" open><summary>"
			    : "<details class=\"annex\"><summary>");
	pg_fmt_zu(p, pg_tr(p, N_("Mission %zu")), i + 1);
	sb_adds(p->out, " \xe2\x80\x94 "); /* U+2014 */
	pg_value(p, json_object_get(m, "destination"), PG_TEXT);
	sb_adds(p->out, "<span class=\"count\">");
	if (r->shown[0] > 0)
		pg_fmt_zu(p, i18n_ntr(p->lang, "%zu member", "%zu members", nm),
			  nm);
	if (r->shown[0] > 0 && r->shown[1] > 0)
		sb_adds(p->out, " \xc2\xb7 ");
	if (r->shown[1] > 0)
		pg_fmt_zu(p,
			  i18n_ntr(p->lang, "%zu expense", "%zu expenses", ne),
			  ne);
	sb_adds(p->out, "</span></summary>\n");
	if (r->shown[0] > 0)
		detail_list(p, i, 0);
	if (r->shown[1] > 0)
		detail_list(p, i, 1);
	sb_adds(p->out, "</details>\n");
}

/* The table's head: two rows, the delegation's counts grouped. */
static void table_head(struct pg *p)
{
	static const char *const counts[] = {"councillors", "guests", "staff",
					     "size"};

	p->css |= PG_CSS_MISSIONS;
	sb_adds(p->out, "<table class=\"missions\"><thead><tr>"
			"<th rowspan=\"2\">");
	sb_adds(p->out, i18n_tr(p->lang, "No."));
	sb_adds(p->out, "</th>");
	th(p, " rowspan=\"2\"", "id");
	th(p, " rowspan=\"2\"", "destination");
	th(p, " rowspan=\"2\"", "start");
	th(p, " rowspan=\"2\"", "end");
	sb_adds(p->out, "<th colspan=\"4\" class=\"group\">");
	sb_adds(p->out, i18n_tr(p->lang, "Delegation"));
	sb_adds(p->out, "</th>");
	th(p, " rowspan=\"2\" class=\"num\"", "cost");
	sb_adds(p->out, "</tr><tr>");
	for (size_t k = 0; k < 4; k++)
		th(p, " class=\"num\"", counts[k]);
	sb_adds(p->out, "</tr></thead>\n<tbody>\n");
}

void pg_missions(struct pg *p)
{
	const json_t *node = json_object_get(p->in->report, "missions");
	size_t all = json_array_size(p->missions), hidden = 0;
	struct pg_cell c;

	sb_adds(p->out, "<section id=\"missions\">");
	c = pg_cell_open(p, "h2", "/missions", NULL);
	sb_adds(p->out, pg_label(p, "missions"));
	pg_cell_close(p, &c);
	sb_adds(p->out, "\n");
	if (p->missions == NULL) {
		pg_note(p);
		if (node == NULL)
			sb_adds(p->out, i18n_tr(p->lang, "The report has no "
							 "list of missions."));
		else {
			sb_adds(
			    p->out,
			    i18n_tr(p->lang, "The missions are not a list:"));
			sb_addc(p->out, ' ');
			pg_value(p, node, PG_CONTAINER);
		}
		sb_adds(p->out, "</p></section>\n");
		return;
	}
	cut_note(p, p->nrows, all);
	table_head(p);
	for (size_t i = 0; i < p->nrows; i++)
		mission_row(p, i);
	if (all == 0) {
		p->css |= PG_CSS_NONE;
		sb_adds(p->out, "<tr><td colspan=\"10\" class=\"none\">");
		sb_adds(p->out, i18n_tr(p->lang, "No mission."));
		sb_adds(p->out, "</td></tr>\n");
	}
	sb_adds(p->out, "</tbody><tfoot><tr><th colspan=\"9\">");
	sb_adds(p->out, i18n_tr(p->lang, "Sum of the costs"));
	sb_adds(p->out, "</th><td class=\"num\" id=\"sum\">");
	if (p->sum_ok)
		pg_amount(p, p->sum);
	else
		pg_none(p);
	sb_adds(p->out, "</td></tr></tfoot></table>\n");
	for (size_t i = 0; i < p->nrows; i++) {
		const struct pg_row *r = &p->row[i];
		if ((r->all[0] > 0 && r->shown[0] == 0) ||
		    (r->all[1] > 0 && r->shown[1] == 0))
			hidden++;
		details(p, i);
	}
	if (hidden > 0) {
		pg_note(p);
		sb_addf(p->out,
			i18n_tr(p->lang, "Some members and expenses are left "
					 "out: a page shows at most %d rows "
					 "of them."),
			PAGE_MAX_DETAIL_TOTAL);
		sb_adds(p->out, "</p>\n");
	}
	sb_adds(p->out, "</section>\n");
}
