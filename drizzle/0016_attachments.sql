CREATE TABLE "attachments" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"owner_id" uuid NOT NULL,
	"scope_id" uuid,
	"purpose" text DEFAULT 'message' NOT NULL,
	"message_id" uuid,
	"key" text NOT NULL,
	"filename" text NOT NULL,
	"declared_type" text NOT NULL,
	"declared_size" bigint NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"content_type" text,
	"size" bigint,
	"display_key" text,
	"width" integer,
	"height" integer,
	"animated" boolean DEFAULT false NOT NULL,
	"thumbhash" text,
	"variants" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"failure_reason" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"claimed_at" timestamp with time zone,
	"completed_at" timestamp with time zone,
	"attached_at" timestamp with time zone,
	"delete_requested_at" timestamp with time zone,
	CONSTRAINT "attachments_scope_for_purpose" CHECK (("attachments"."purpose" = 'avatar') = ("attachments"."scope_id" is null)),
	CONSTRAINT "attachments_declared_size" CHECK ("attachments"."declared_size" > 0)
);
--> statement-breakpoint
ALTER TABLE "attachments" ADD CONSTRAINT "attachments_owner_id_users_id_fk" FOREIGN KEY ("owner_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "attachments" ADD CONSTRAINT "attachments_scope_id_scopes_id_fk" FOREIGN KEY ("scope_id") REFERENCES "public"."scopes"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "attachments" ADD CONSTRAINT "attachments_message_id_messages_id_fk" FOREIGN KEY ("message_id") REFERENCES "public"."messages"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "attachments_key_idx" ON "attachments" USING btree ("key");--> statement-breakpoint
CREATE INDEX "attachments_owner_created_idx" ON "attachments" USING btree ("owner_id","created_at");--> statement-breakpoint
CREATE INDEX "attachments_message_idx" ON "attachments" USING btree ("message_id");--> statement-breakpoint
CREATE INDEX "attachments_cleanup_idx" ON "attachments" USING btree ("created_at") WHERE "attachments"."message_id" is null and "attachments"."attached_at" is null;--> statement-breakpoint
CREATE INDEX "attachments_delete_idx" ON "attachments" USING btree ("delete_requested_at") WHERE "attachments"."delete_requested_at" is not null;--> statement-breakpoint
CREATE UNIQUE INDEX "attachments_current_avatar_idx" ON "attachments" USING btree ("owner_id") WHERE "attachments"."purpose" = 'avatar' and "attachments"."attached_at" is not null and "attachments"."delete_requested_at" is null;--> statement-breakpoint
CREATE UNIQUE INDEX "attachments_current_icon_idx" ON "attachments" USING btree ("scope_id") WHERE "attachments"."purpose" = 'icon' and "attachments"."attached_at" is not null and "attachments"."delete_requested_at" is null;