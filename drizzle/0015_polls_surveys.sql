CREATE TABLE "poll_options" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"poll_id" uuid NOT NULL,
	"position" integer NOT NULL,
	"text" text NOT NULL,
	"emoji" text,
	"correct" boolean DEFAULT false NOT NULL,
	"added_by" uuid,
	"vote_count" integer DEFAULT 0 NOT NULL,
	CONSTRAINT "poll_options_position_key" UNIQUE("poll_id","position"),
	CONSTRAINT "poll_options_poll_id_key" UNIQUE("poll_id","id"),
	CONSTRAINT "poll_options_text_len" CHECK (char_length("poll_options"."text") between 1 and 100)
);
--> statement-breakpoint
CREATE TABLE "poll_votes" (
	"poll_id" uuid NOT NULL,
	"option_id" uuid NOT NULL,
	"voter" text NOT NULL,
	"voted_at" timestamp with time zone,
	CONSTRAINT "poll_votes_poll_id_voter_option_id_pk" PRIMARY KEY("poll_id","voter","option_id")
);
--> statement-breakpoint
CREATE TABLE "polls" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"scope_id" uuid NOT NULL,
	"message_id" uuid NOT NULL,
	"created_by" uuid NOT NULL,
	"question" text NOT NULL,
	"min_choices" integer DEFAULT 1 NOT NULL,
	"max_choices" integer DEFAULT 1 NOT NULL,
	"anonymous" boolean DEFAULT false NOT NULL,
	"results_visibility" text DEFAULT 'always' NOT NULL,
	"closes_at" timestamp with time zone,
	"closed_at" timestamp with time zone,
	"allow_vote_change" boolean DEFAULT true NOT NULL,
	"allow_add_options" boolean DEFAULT false NOT NULL,
	"quiz" boolean DEFAULT false NOT NULL,
	"explanation" text,
	"voter_count" integer DEFAULT 0 NOT NULL,
	"tally_version" bigint DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "polls_message_key" UNIQUE("message_id"),
	CONSTRAINT "polls_question_len" CHECK (char_length("polls"."question") between 1 and 300),
	CONSTRAINT "polls_choices" CHECK ("polls"."min_choices" >= 1 and "polls"."max_choices" >= "polls"."min_choices" and "polls"."max_choices" <= 20),
	CONSTRAINT "polls_visibility" CHECK ("polls"."results_visibility" in ('always', 'afterVote', 'afterClose'))
);
--> statement-breakpoint
CREATE TABLE "result_event_marks" (
	"target_id" uuid PRIMARY KEY NOT NULL,
	"event_version" bigint DEFAULT 0 NOT NULL,
	"event_at" timestamp with time zone DEFAULT '-infinity' NOT NULL
);
--> statement-breakpoint
CREATE TABLE "survey_questions" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"survey_id" uuid NOT NULL,
	"position" integer NOT NULL,
	"type" text NOT NULL,
	"prompt" text NOT NULL,
	"required" boolean DEFAULT false NOT NULL,
	"config" jsonb DEFAULT '{}'::jsonb NOT NULL,
	CONSTRAINT "survey_questions_position_key" UNIQUE("survey_id","position")
);
--> statement-breakpoint
CREATE TABLE "survey_responses" (
	"survey_id" uuid NOT NULL,
	"respondent" text NOT NULL,
	"answers" jsonb NOT NULL,
	"submitted_at" timestamp with time zone,
	"updated_at" timestamp with time zone,
	CONSTRAINT "survey_responses_survey_id_respondent_pk" PRIMARY KEY("survey_id","respondent")
);
--> statement-breakpoint
CREATE TABLE "surveys" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"scope_id" uuid NOT NULL,
	"message_id" uuid NOT NULL,
	"created_by" uuid NOT NULL,
	"title" text NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"anonymous" boolean DEFAULT false NOT NULL,
	"results_visibility" text DEFAULT 'always' NOT NULL,
	"closes_at" timestamp with time zone,
	"closed_at" timestamp with time zone,
	"allow_edit" boolean DEFAULT false NOT NULL,
	"response_count" integer DEFAULT 0 NOT NULL,
	"tally_version" bigint DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "surveys_message_key" UNIQUE("message_id"),
	CONSTRAINT "surveys_title_len" CHECK (char_length("surveys"."title") between 1 and 300),
	CONSTRAINT "surveys_visibility" CHECK ("surveys"."results_visibility" in ('always', 'afterVote', 'afterClose'))
);
--> statement-breakpoint
ALTER TABLE "poll_options" ADD CONSTRAINT "poll_options_poll_id_polls_id_fk" FOREIGN KEY ("poll_id") REFERENCES "public"."polls"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "poll_options" ADD CONSTRAINT "poll_options_added_by_users_id_fk" FOREIGN KEY ("added_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "poll_votes" ADD CONSTRAINT "poll_votes_option_fk" FOREIGN KEY ("poll_id","option_id") REFERENCES "public"."poll_options"("poll_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "polls" ADD CONSTRAINT "polls_scope_id_scopes_id_fk" FOREIGN KEY ("scope_id") REFERENCES "public"."scopes"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "polls" ADD CONSTRAINT "polls_message_id_messages_id_fk" FOREIGN KEY ("message_id") REFERENCES "public"."messages"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "polls" ADD CONSTRAINT "polls_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "survey_questions" ADD CONSTRAINT "survey_questions_survey_id_surveys_id_fk" FOREIGN KEY ("survey_id") REFERENCES "public"."surveys"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "survey_responses" ADD CONSTRAINT "survey_responses_survey_id_surveys_id_fk" FOREIGN KEY ("survey_id") REFERENCES "public"."surveys"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "surveys" ADD CONSTRAINT "surveys_scope_id_scopes_id_fk" FOREIGN KEY ("scope_id") REFERENCES "public"."scopes"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "surveys" ADD CONSTRAINT "surveys_message_id_messages_id_fk" FOREIGN KEY ("message_id") REFERENCES "public"."messages"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "surveys" ADD CONSTRAINT "surveys_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "poll_votes_option_idx" ON "poll_votes" USING btree ("option_id","voted_at");--> statement-breakpoint
CREATE INDEX "polls_scope_idx" ON "polls" USING btree ("scope_id");--> statement-breakpoint
CREATE INDEX "polls_open_closes_idx" ON "polls" USING btree ("closes_at") WHERE "polls"."closed_at" is null and "polls"."closes_at" is not null;--> statement-breakpoint
CREATE INDEX "polls_open_idx" ON "polls" USING btree ("id") WHERE "polls"."closed_at" is null;--> statement-breakpoint
CREATE INDEX "surveys_scope_idx" ON "surveys" USING btree ("scope_id");--> statement-breakpoint
CREATE INDEX "surveys_open_closes_idx" ON "surveys" USING btree ("closes_at") WHERE "surveys"."closed_at" is null and "surveys"."closes_at" is not null;--> statement-breakpoint
CREATE INDEX "surveys_open_idx" ON "surveys" USING btree ("id") WHERE "surveys"."closed_at" is null;