using System.Reflection;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Cairn.Server.Hosting;

/// <summary>
/// The OpenAPI document of Cairn's own endpoints (<c>/api/cairn/v1/...</c>). MLflow's routes are left out: MLflow
/// documents them, and Cairn answers them as MLflow does.
/// </summary>
internal static class CairnOpenApi
{
    public const string DocumentName = "cairn";

    public static IServiceCollection AddCairnOpenApi(this IServiceCollection services) =>
        services.AddOpenApi(DocumentName, options =>
        {
            options.ShouldInclude = description => description.RelativePath?.StartsWith("api/cairn/v1/", StringComparison.Ordinal) == true;
            options.AddDocumentTransformer((document, _, _) =>
            {
                document.Info.Title = "Cairn API";
                document.Info.Description = "Cairn's additions to MLflow's REST API. Bodies and errors follow MLflow's conventions: snake_case JSON, "
                    + "errors as {\"error_code\": ..., \"message\": ...}.";
                return Task.CompletedTask;
            });
            // The wire contracts are written snake_case by their own serializer context; the schemas say so too, without
            // changing the host's JSON options (an embedding app keeps its own).
            options.AddSchemaTransformer((schema, context, _) =>
            {
                if (context.JsonTypeInfo.Type.Namespace == "Cairn.Contracts" && schema.Properties is { Count: > 0 } properties)
                {
                    foreach (var property in context.JsonTypeInfo.Properties)
                    {
                        var wire = JsonNamingPolicy.SnakeCaseLower.ConvertName((property.AttributeProvider as MemberInfo)?.Name ?? property.Name);
                        if (wire != property.Name && properties.Remove(property.Name, out var value)) properties[wire] = value;
                    }
                }
                return Task.CompletedTask;
            });
        });

    public static IEndpointConventionBuilder MapCairnOpenApi(this IEndpointRouteBuilder endpoints, string path) =>
        endpoints.MapOpenApi(path.Replace(DocumentName, "{documentName}", StringComparison.Ordinal));
}
